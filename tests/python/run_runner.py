"""Runs a Tilebox task runner for task classes of workflow_tasks.py; test_workflows.py starts it as a subprocess.

    python run_runner.py --url http://127.0.0.1:PORT [--forever] TaskName [TaskName ...]

Without --forever the runner executes tasks until the queue is empty (`run_all`) and exits. It prints
"runner ready" once the runner is connected (cluster looked up, lease renewer started). Set
OTEL_EXPORT_INTERVAL and TILEBOX_RUNTIME_ID (a UUID) in the environment before starting it.
"""

import argparse

from tilebox.workflows import Client

import workflow_tasks


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--forever", action="store_true", help="run_forever instead of run_all")
    parser.add_argument("tasks", nargs="+", help="names of Task classes in workflow_tasks.py")
    args = parser.parse_args()

    tasks = [getattr(workflow_tasks, name) for name in args.tasks]
    runner = Client(url=args.url).runner(tasks=tasks)
    print("runner ready", flush=True)
    if args.forever:
        runner.run_forever()
    else:
        runner.run_all()


if __name__ == "__main__":
    main()
