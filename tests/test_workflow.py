"""The GitHub Actions workflow: its schema, and which job runs, with what, for each event.

The `if:` conditions are evaluated (tests/github_expressions.py) against the event
payloads GitHub sends, so a condition that lets a job run where it must not fails here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from github_expressions import evaluate

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / ".github" / "workflows" / "pulumi.yml"
SETUP_ACTION = ROOT / ".github" / "actions" / "setup" / "action.yml"
CHECK_JSONSCHEMA = Path(sys.executable).with_name("check-jsonschema")
ROLE = "${{ vars.AWS_ROLE_ARN }}"
PULUMI_TOKEN = "${{ secrets.PULUMI_ACCESS_TOKEN }}"


def workflow() -> dict[Any, Any]:
    # Keys are strings but one: PyYAML reads the bare key `on` as True.
    loaded: dict[Any, Any] = yaml.safe_load(WORKFLOW.read_text())
    return loaded


def jobs() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = workflow()["jobs"]
    return found


def steps_using(job: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [step for step in job["steps"] if step.get("uses", "").startswith(action)]


def pull_request(
    action: str,
    labels: tuple[str, ...] = (),
    number: int = 7,
    fork: bool = False,
    label: str | None = None,
) -> dict[str, Any]:
    """The `github` context of a pull_request event, with the fields the conditions read."""
    event: dict[str, Any] = {
        "action": action,
        "number": number,
        "pull_request": {
            "number": number,
            "labels": [{"name": name} for name in labels],
            "head": {"repo": {"full_name": "someone/draht-infra" if fork else "draht/draht-infra"}},
        },
    }
    if label is not None:
        event["label"] = {"name": label}
    return {
        "event_name": "pull_request",
        "event": event,
        "repository": "draht/draht-infra",
        "ref": f"refs/pull/{number}/merge",
    }


def push(branch: str = "main") -> dict[str, Any]:
    return {
        "event_name": "push",
        "event": {},
        "repository": "draht/draht-infra",
        "ref": f"refs/heads/{branch}",
    }


def jobs_run(github: dict[str, Any]) -> set[str]:
    """The jobs that run for an event: their `if:` holds and every job they need runs."""
    running: set[str] = set()
    pending = dict(jobs())
    while pending:
        progressed = False
        for name, job in list(pending.items()):
            needs = job.get("needs", [])
            needs = [needs] if isinstance(needs, str) else needs
            if any(n in pending for n in needs):
                continue
            del pending[name]
            progressed = True
            condition = job.get("if", "success()")
            holds = (
                all(n in running for n in needs)
                if condition == "success()"
                else all(n in running for n in needs)
                and bool(evaluate(condition, {"github": github}))
            )
            if holds:
                running.add(name)
        assert progressed, "the jobs' needs form a cycle"
    return running


# Schema


@pytest.mark.parametrize(
    ("path", "schema"),
    [(WORKFLOW, "vendor.github-workflows"), (SETUP_ACTION, "vendor.github-actions")],
)
def test_file_matches_github_actions_schema(path: Path, schema: str) -> None:
    checked = subprocess.run(
        [str(CHECK_JSONSCHEMA), "--builtin-schema", schema, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


# Which jobs run for which event


def test_a_push_to_main_tests_then_deploys_dev_then_production() -> None:
    assert jobs_run(push()) == {"test", "up-dev", "up-production"}


def test_a_push_to_another_branch_only_tests() -> None:
    assert jobs_run(push("feature")) == {"test"}


def test_a_pull_request_is_tested_and_previewed() -> None:
    assert jobs_run(pull_request("opened")) == {"test", "preview"}


def test_a_labelled_pull_request_also_gets_its_review_stack() -> None:
    for action in ("opened", "synchronize", "labeled", "reopened"):
        github = pull_request(action, labels=("deploy-preview",))
        assert jobs_run(github) == {"test", "preview", "review-up"}, action


def test_a_pull_request_from_a_fork_never_gets_a_review_stack() -> None:
    github = pull_request("labeled", labels=("deploy-preview",), fork=True)
    assert "review-up" not in jobs_run(github)


def test_closing_a_labelled_pull_request_removes_its_review_stack_and_nothing_else() -> None:
    assert jobs_run(pull_request("closed", labels=("deploy-preview",))) == {"review-down"}


def test_closing_an_unlabelled_pull_request_runs_nothing() -> None:
    assert jobs_run(pull_request("closed")) == set()


def test_removing_the_label_removes_the_review_stack() -> None:
    github = pull_request("unlabeled", label="deploy-preview")
    assert "review-down" in jobs_run(github)
    assert "review-up" not in jobs_run(github)


def test_removing_another_label_leaves_the_review_stack() -> None:
    github = pull_request("unlabeled", labels=("deploy-preview",), label="wip")
    assert "review-down" not in jobs_run(github)


def test_the_workflow_listens_for_label_changes_and_closing() -> None:
    triggers = workflow()[True]
    assert {"labeled", "unlabeled", "closed"} <= set(triggers["pull_request"]["types"])
    assert triggers["push"] == {"branches": ["main"]}


# Production


def test_only_the_production_job_updates_production() -> None:
    updating = [
        name
        for name, job in jobs().items()
        for step in steps_using(job, "pulumi/actions")
        if step.get("with", {}).get("stack-name") == "production"
        and step["with"].get("command") != "preview"
    ]
    assert updating == ["up-production"]


def test_production_deploys_through_the_production_environment() -> None:
    assert jobs()["up-production"]["environment"] == "production"


def test_production_deploys_only_after_dev() -> None:
    assert jobs()["up-production"]["needs"] == "up-dev"


def test_production_previews_use_their_own_environment_not_the_approved_one() -> None:
    include = jobs()["preview"]["strategy"]["matrix"]["include"]
    assert {(entry["stack"], entry["environment"]) for entry in include} == {
        ("dev", "dev"),
        ("production", "production-preview"),
    }


# Roles, secrets and permissions


def test_every_job_that_assumes_a_role_takes_its_environment_s_role() -> None:
    for name, job in jobs().items():
        for step in steps_using(job, "aws-actions/configure-aws-credentials"):
            assert step["with"]["role-to-assume"] == ROLE, name
            assert job.get("environment"), name


def test_no_secret_is_set_for_the_whole_workflow() -> None:
    assert "secrets." not in json.dumps(workflow().get("env", {}))


def test_the_workflow_grants_no_permission_by_default() -> None:
    assert workflow()["permissions"] == {}


def test_the_test_job_sees_no_secret_no_environment_and_reads_only() -> None:
    test = jobs()["test"]
    assert "secrets." not in json.dumps(test)
    assert "environment" not in test
    assert test["permissions"] == {"contents": "read"}


def test_the_test_job_runs_what_ci_runs_then_checkov() -> None:
    runs = [step["run"] for step in jobs()["test"]["steps"] if "run" in step]
    assert runs == [".ci/run", "make checkov"]
    assert "make test" in (ROOT / ".ci" / "run").read_text().splitlines()


def test_only_jobs_that_run_pulumi_see_the_pulumi_token() -> None:
    for name, job in jobs().items():
        runs_pulumi = bool(steps_using(job, "pulumi/actions"))
        assert (job.get("env", {}).get("PULUMI_ACCESS_TOKEN") == PULUMI_TOKEN) == runs_pulumi, name


def test_only_jobs_that_assume_a_role_may_request_an_oidc_token() -> None:
    for name, job in jobs().items():
        assumes = bool(steps_using(job, "aws-actions/configure-aws-credentials"))
        assert (job["permissions"].get("id-token") == "write") == assumes, name


def test_only_jobs_that_comment_may_write_to_pull_requests() -> None:
    writers = {n for n, j in jobs().items() if j["permissions"].get("pull-requests") == "write"}
    assert writers == {"preview", "review-up"}


# Review stacks


def test_the_review_stack_is_named_after_the_pull_request() -> None:
    for name in ("review-up", "review-down"):
        assert jobs()[name]["env"]["STACK"] == "pr-${{ github.event.pull_request.number }}"


def test_the_review_stack_is_created_on_its_first_deploy() -> None:
    (up,) = steps_using(jobs()["review-up"], "pulumi/actions")
    assert (up["with"]["command"], up["with"]["stack-name"], up["with"]["upsert"]) == (
        "up",
        "${{ env.STACK }}",
        True,
    )


def test_the_review_stack_api_url_is_posted_on_the_pull_request() -> None:
    job = jobs()["review-up"]
    (up,) = steps_using(job, "pulumi/actions")
    (post,) = [step for step in job["steps"] if "gh pr comment" in step.get("run", "")]
    assert post["env"]["API_URL"] == f"${{{{ steps.{up['id']}.outputs.apiUrl }}}}"
    assert "$API_URL" in post["run"]


def test_closing_destroys_the_review_stack_then_removes_it() -> None:
    runs = [step.get("run", "") for step in jobs()["review-down"]["steps"]]
    destroy = next(i for i, run in enumerate(runs) if run.startswith("pulumi destroy"))
    remove = next(i for i, run in enumerate(runs) if run.startswith("pulumi stack rm"))
    assert destroy < remove
    assert '--stack "$STACK"' in runs[destroy] and '"$STACK"' in runs[remove]


def test_one_review_stack_update_at_a_time() -> None:
    groups = {jobs()[name]["concurrency"]["group"] for name in ("review-up", "review-down")}
    assert groups == {"review-pr-${{ github.event.pull_request.number }}"}
