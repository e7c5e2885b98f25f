"""Task classes for test_workflows.py, importable by the test process and by run_runner.py.

Marker files (paths in the task input) let a test control or observe what a task did, even when it
runs in another process: whether it has run before, whether it may succeed yet, whether it ran at all.
"""

import os
import time
from pathlib import Path

from tilebox.workflows import ExecutionContext, Task
from tilebox.workflows.automations import CronTask, StorageEventTask


class FlakyTask(Task):
    """Fails with ValueError("boom") on its first attempt only (the marker file records the attempt)."""

    marker: str

    def execute(self, context: ExecutionContext) -> None:
        if not os.path.exists(self.marker):
            Path(self.marker).write_text("failed once")
            raise ValueError("boom")


class AlwaysFails(Task):
    """Fails on every attempt."""

    reason: str

    def execute(self, context: ExecutionContext) -> None:
        raise ValueError(self.reason)


class NeedsMarker(Task):
    """Fails until the marker file exists."""

    marker: str

    def execute(self, context: ExecutionContext) -> None:
        if not os.path.exists(self.marker):
            raise RuntimeError(f"marker {self.marker} is missing")


class WriteMarker(Task):
    """Writes the marker file, so a test can tell whether the task ran."""

    marker: str

    def execute(self, context: ExecutionContext) -> None:
        Path(self.marker).write_text("executed")


class RecordsException(Task):
    """Catches an error inside a custom span and records it there; the task itself succeeds."""

    pixel: int

    def execute(self, context: ExecutionContext) -> None:
        with context.tracer.span("validate-pixels") as span:
            span.set_attribute("pixel", self.pixel)
            try:
                raise ValueError(f"bad pixel {self.pixel}")
            except ValueError as error:
                span.record_exception(error)
        with context.tracer.span("write-output"):
            pass


class LogScene(Task):
    """Logs outside any custom span, then submits a LogTile subtask."""

    tile: int

    def execute(self, context: ExecutionContext) -> None:
        context.logger.info("scene started")
        context.submit_subtask(LogTile(tile=self.tile))


class LogTile(Task):
    """Logs an info and a warning line inside the custom span `process-tile`."""

    tile: int

    def execute(self, context: ExecutionContext) -> None:
        with context.tracer.span("process-tile") as span:
            span.set_attribute("tile", self.tile)
            context.logger.info("processing tile", tile=self.tile)
            context.logger.warning("cloud cover high", tile=self.tile, cloud_cover=0.9)


class FanOut(Task):
    """Submits `count` Sleep subtasks and a Collect task that depends on all of them."""

    count: int
    seconds: float

    def execute(self, context: ExecutionContext) -> None:
        sleeps = [context.submit_subtask(Sleep(index=i, seconds=self.seconds)) for i in range(self.count)]
        context.submit_subtask(Collect(count=self.count), depends_on=sleeps)


class Sleep(Task):
    index: int
    seconds: float

    def execute(self, context: ExecutionContext) -> None:
        time.sleep(self.seconds)


class Collect(Task):
    count: int

    def execute(self, context: ExecutionContext) -> None:
        context.logger.info("collected", count=self.count)


class TallyFanOut(Task):
    """Submits `count` Tallied subtasks (test_restart.py)."""

    count: int
    seconds: float
    tally: str

    def execute(self, context: ExecutionContext) -> None:
        for index in range(self.count):
            context.submit_subtask(Tallied(index=index, seconds=self.seconds, tally=self.tally))


class Tallied(Task):
    """Works `seconds`, then appends its task id to the tally file: executions counted by the tasks."""

    index: int
    seconds: float
    tally: str

    def execute(self, context: ExecutionContext) -> None:
        time.sleep(self.seconds)
        with open(self.tally, "a") as tally:
            tally.write(f"{context.current_task.id}\n")


class SlowOnce(Task):
    """On its first attempt writes the `started` marker and then sleeps 60 s; later attempts finish at once."""

    started: str

    def execute(self, context: ExecutionContext) -> None:
        if not os.path.exists(self.started):
            Path(self.started).write_text(str(os.getpid()))
            time.sleep(60)


# --- cross-language tasks (test_interop.py): the Rust side is sdk/examples/interop.rs -------------


class PyLeaf(Task):
    """Runs on a Python runner; submitted by the Rust RustFanOut task."""

    index: int

    @staticmethod
    def identifier() -> tuple[str, str]:
        return "PyLeaf", "v1.0"

    def execute(self, context: ExecutionContext) -> None:
        with context.tracer.span("py-work") as span:
            span.set_attribute("index", self.index)
            context.logger.info(f"python leaf {self.index} done")


class RustLeaf(Task):
    """Runs on the Rust runner (sdk/examples/interop.rs); defined here only to be submitted."""

    index: int

    @staticmethod
    def identifier() -> tuple[str, str]:
        return "RustLeaf", "v1.0"

    def execute(self, context: ExecutionContext) -> None:
        raise RuntimeError("RustLeaf runs on a Rust runner")


class PyFanOut(Task):
    """Submits `count` RustLeaf subtasks for a Rust runner, then a PyLeaf that waits for all of them."""

    count: int

    def execute(self, context: ExecutionContext) -> None:
        leaves = [context.submit_subtask(RustLeaf(index=i)) for i in range(self.count)]
        context.submit_subtask(PyLeaf(index=-1), depends_on=leaves)


class SumOfProduced(Task):
    """The caches page's fan-in: PrintSum depends on ProduceNumbers, whose numbers are its subtasks
    (files in `folder` stand in for the job cache, so that the runner needs no cache configured)."""

    folder: str
    count: int

    def execute(self, context: ExecutionContext) -> None:
        produce = context.submit_subtask(ProduceNumbers(folder=self.folder, count=self.count))
        context.submit_subtask(PrintSum(folder=self.folder), depends_on=[produce])


class ProduceNumbers(Task):
    folder: str
    count: int

    def execute(self, context: ExecutionContext) -> None:
        for number in range(1, self.count + 1):
            context.submit_subtask(ProduceNumber(folder=self.folder, number=number))


class ProduceNumber(Task):
    folder: str
    number: int

    def execute(self, context: ExecutionContext) -> None:
        (Path(self.folder) / f"number-{self.number}").write_text(str(self.number))


class PrintSum(Task):
    folder: str

    def execute(self, context: ExecutionContext) -> None:
        numbers = [int(path.read_text()) for path in Path(self.folder).glob("number-*")]
        (Path(self.folder) / "sum").write_text(str(sum(numbers)))


class Pipeline(Task):
    """The docs' nested optional tasks: a failure inside OptionalProcessing skips the rest of it; the
    task depending on OptionalProcessing still runs."""

    folder: str

    def execute(self, context: ExecutionContext) -> None:
        processing = context.submit_subtask(OptionalProcessing(folder=self.folder), optional=True)
        context.submit_subtask(WriteMarker(marker=f"{self.folder}/final"), depends_on=[processing])


class OptionalProcessing(Task):
    folder: str

    def execute(self, context: ExecutionContext) -> None:
        first = context.submit_subtask(Step1(folder=self.folder))
        context.submit_subtask(WriteMarker(marker=f"{self.folder}/step2"), depends_on=[first])


class Step1(Task):
    folder: str

    def execute(self, context: ExecutionContext) -> None:
        context.submit_subtask(WriteMarker(marker=f"{self.folder}/step1a"))
        failing = context.submit_subtask(AlwaysFails(reason="step1b"))
        context.submit_subtask(WriteMarker(marker=f"{self.folder}/step1c"), depends_on=[failing])


class ProgressRoot(Task):
    """The docs' progress indicators: the root adds the work, each leaf marks its share done."""

    count: int

    def execute(self, context: ExecutionContext) -> None:
        context.progress().add(self.count)
        context.progress("tiles").add(self.count)
        for _ in range(self.count):
            context.submit_subtask(ProgressLeaf())


class ProgressLeaf(Task):
    def execute(self, context: ExecutionContext) -> None:
        context.progress().done(1)
        context.progress("tiles").done(1)


class LabelledFanOut(Task):
    """A task that names itself with markup (a diagram must show it as text) and fans out `count`
    alike subtasks."""

    label: str
    folder: str
    count: int

    def execute(self, context: ExecutionContext) -> None:
        context.current_task.display = self.label
        for number in range(self.count):
            context.submit_subtask(ProduceNumber(folder=self.folder, number=number))


class StampTrigger(CronTask):
    """A cron automation's task: appends the trigger time it was submitted for to `folder/stamps`."""

    folder: str

    def execute(self, context: ExecutionContext) -> None:
        with (Path(self.folder) / "stamps").open("a") as stamps:
            stamps.write(f"{self.trigger.time.timestamp():.3f}\n")


class RecordArrival(StorageEventTask):
    """A storage-event automation's task: reads the new object through the storage location the
    event names and appends `<object key> <its content>` to `folder/arrivals`."""

    folder: str

    def execute(self, context: ExecutionContext) -> None:
        content = self.trigger.storage.read(self.trigger.location).decode()
        with (Path(self.folder) / "arrivals").open("a") as arrivals:
            arrivals.write(f"{self.trigger.location} {content}\n")
