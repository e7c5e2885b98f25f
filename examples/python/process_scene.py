"""The Tilebox "Tracing" page's example, run unchanged against jobtrace.

    python process_scene.py --url http://127.0.0.1:3000

Submits a ProcessScene job, runs it with an in-process task runner until the queue is empty, then
queries the job's spans back and prints them (and their DataFrame).
"""

import argparse
import os
import time

from tilebox.workflows import Client, ExecutionContext, Task


class ProcessScene(Task):
    scene_id: str

    def execute(self, context: ExecutionContext) -> None:
        with context.tracer.span("download-scene") as span:
            span.set_attribute("scene_id", self.scene_id)
            # download input data
        with context.tracer.span("compute-index"):
            # perform expensive computation
            pass


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default="http://127.0.0.1:3000")
    args = parser.parse_args()

    # Export spans every half second instead of every five, so they are queryable right away.
    os.environ.setdefault("OTEL_EXPORT_INTERVAL", "0.5s")
    client = Client(url=args.url)
    job = client.jobs().submit("process-scene", ProcessScene(scene_id="S2A_001"))
    client.runner(tasks=[ProcessScene]).run_all()

    # Spans are exported in batches: wait until the job span, the task span and both custom
    # spans have arrived.
    deadline = time.monotonic() + 30
    spans = client.jobs().query_spans(job)
    while len(spans) < 4 and time.monotonic() < deadline:
        time.sleep(0.25)
        spans = client.jobs().query_spans(job)
    for span in spans:
        print(span.name, span.status_code, span.duration)
    df = spans.to_pandas()
    print(df)
    print(f"job id: {job.id}")


if __name__ == "__main__":
    main()
