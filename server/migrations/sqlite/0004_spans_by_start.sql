-- A trace's spans by start time: the job page's outline reads them in this order.
CREATE INDEX spans_by_trace_start ON spans (trace_id, start_ns);
