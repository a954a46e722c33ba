"""studies/queue.sh: workers share a job file, never run a run twice (even one two job files list), skip finished
runs, wait for a fine-tuned run's base, and commit each finished run."""
import os
from pathlib import Path
import shutil
import subprocess
import sys

from tests.conftest import REPO

FAKE_PYTHON = f"""#!/bin/sh
# stands in for python: "-c" goes to the real interpreter; a regions.py call records itself and writes eval.json
if [ "$1" = "-c" ]; then exec {sys.executable} "$@"; fi
out=""; model=""; demos=""; seed=""
while [ $# -gt 0 ]; do
  case "$1" in --out) out=$2;; --models) model=$2;; --demos) demos=$2;; --seeds) seed=$2;; esac; shift
done
echo "$model $demos $seed" >> "$CALLS"
sleep 0.2
mkdir -p "$out/runs/${{model}}_n${{demos}}_s${{seed}}"
echo '{{"mean_success": 0.5}}' > "$out/runs/${{model}}_n${{demos}}_s${{seed}}/eval.json"
"""


def git(repo, *args):
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True).stdout


def test_two_workers_share_the_jobs_and_commit_each_run(tmp_path):
    repo = make_repo(tmp_path)
    fake = make_fake_python(tmp_path)
    out = "res/push"
    (repo / "benchmarks" / "results" / "regions_fast" / "push" / "data.zarr").mkdir(parents=True)  # the dataset
    (repo / out / "runs" / "equi_n10_s1").mkdir(parents=True)
    (repo / out / "runs" / "equi_n10_s1" / "eval.json").write_text('{"mean_success": 1.0}')  # finished before
    jobs = tmp_path / "jobs.txt"
    jobs.write_text("# a comment\n\n" + "".join(f"{out} push 10 {s} {m} 30\n" for m in ("relaxed_from_equi", "equi",
                                                                                          "plain") for s in (0, 1))
                    + "res/drift push-drift 10 0 equi 30\n")  # no push-drift dataset: skipped, nothing generated
    # claims left by workers: plain seed 0 by a live one, which must be left alone; plain seed 1 by a killed one,
    # whose claim the next worker takes over
    dead = subprocess.Popen(["true"])
    dead.wait()
    for run, pid in (("plain_n10_s0", os.getpid()), ("plain_n10_s1", dead.pid)):
        (tmp_path / "claims" / f"res_push_{run}").mkdir(parents=True)
        (tmp_path / "claims" / f"res_push_{run}" / "pid").write_text(f"{pid}\n")
    env = queue_env(tmp_path, fake)
    workers = [subprocess.Popen(["bash", "studies/queue.sh", str(jobs), name], cwd=repo, env=env)
               for name in ("A", "B")]
    assert [w.wait(timeout=60) for w in workers] == [0, 0]
    calls = (tmp_path / "calls.txt").read_text().splitlines()
    # each unfinished, unclaimed run once (equi seed 1 was finished; plain seed 0 is a live worker's); a fine-tuned
    # run starts after its base has finished
    assert sorted(calls) == ["equi 10 0", "plain 10 1", "relaxed_from_equi 10 0", "relaxed_from_equi 10 1"]
    assert calls.index("equi 10 0") < calls.index("relaxed_from_equi 10 0")
    committed = git(repo, "ls-files", out).split()
    assert sorted(committed) == sorted(f"{out}/runs/{m}_n10_s{s}/eval.json" for m, s in
                                       [("equi", 0), ("plain", 1), ("relaxed_from_equi", 0),
                                        ("relaxed_from_equi", 1)])
    assert len(git(repo, "log", "--oneline").splitlines()) == 1 + 4  # a commit per run this queue finished
    assert "skipped res/drift equi_n10_s0: no benchmarks/results/regions_fast/push-drift/data.zarr" in \
        (tmp_path / "logs" / "progress.log").read_text()
    assert not (repo / "res" / "drift").exists()


def test_a_run_that_two_job_files_list_runs_once(tmp_path):
    repo = make_repo(tmp_path)
    fake = make_fake_python(tmp_path)
    (repo / "benchmarks" / "results" / "regions_fast" / "push" / "data.zarr").mkdir(parents=True)
    shared = "".join(f"res/push push 10 {s} equi 30\n" for s in range(4))
    jobs = [tmp_path / "first.txt", tmp_path / "second.txt"]
    jobs[0].write_text(shared)
    jobs[1].write_text("# the same runs, started at the same moment by the second worker\n\n" + shared)
    env = queue_env(tmp_path, fake)
    workers = [subprocess.Popen(["bash", "studies/queue.sh", str(job), name], cwd=repo, env=env)
               for job, name in zip(jobs, ("A", "B"))]
    assert [w.wait(timeout=60) for w in workers] == [0, 0]
    calls = (tmp_path / "calls.txt").read_text().splitlines()
    assert sorted(calls) == ["equi 10 0", "equi 10 1", "equi 10 2", "equi 10 3"]


def make_repo(tmp_path):
    """A git repository holding only studies/queue.sh, with one empty commit."""
    repo = tmp_path / "repo"
    (repo / "studies").mkdir(parents=True)
    shutil.copy(REPO / "studies" / "queue.sh", repo / "studies" / "queue.sh")
    git(repo, "init", "-q")
    git(repo, "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-q", "--allow-empty", "-m", "start")
    return repo


def make_fake_python(tmp_path):
    """An executable standing in for python (see FAKE_PYTHON)."""
    fake = tmp_path / "python"
    fake.write_text(FAKE_PYTHON)
    fake.chmod(0o755)
    return fake


def queue_env(tmp_path, fake):
    """queue.sh's environment: the fake python, claims/logs under tmp_path, short waits, a git identity."""
    return dict(os.environ, PY=str(fake), CALLS=str(tmp_path / "calls.txt"), CLAIMS=str(tmp_path / "claims"),
                LOGS=str(tmp_path / "logs"), WAIT_S="0.2", GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t",
                GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@t")


def test_every_committed_job_line_names_a_known_env_and_an_existing_recipe():
    from equidiff_relaxed.cli.train import recipe_path
    from equidiff_relaxed.envs import env_names
    from equidiff_relaxed.policy.families import all_option_fields, get_family

    lines = 0
    for jobs in sorted((REPO / "studies" / "queue").glob("*.txt")):
        for number, line in enumerate(jobs.read_text().splitlines(), 1):
            if not line.strip() or line.startswith("#"):
                continue
            where = f"{jobs.name}:{number}"
            out, env, demos, seed, model, steps, *args = line.split()
            assert env in env_names() and out.startswith("benchmarks/results/"), where
            assert int(demos) > 0 and int(seed) >= 0 and int(steps) > 0, where
            recipe = args[args.index("--recipe") + 1] if "--recipe" in args else "configs/push.yaml"
            for family in model.split("_from_"):
                assert Path(recipe_path(str(REPO / recipe.replace("{model}", family)))).is_file(), where
            sets = [args[i + 1] for i, a in enumerate(args) if a == "--set"]
            for key in [s.split("=", 1)[0] for s in sets if s.startswith("model.")]:  # options the family takes
                option = key.split(".", 1)[1]
                owners = [f for f in model.split("_from_") if option in get_family(f).option_names()]
                assert owners or option not in all_option_fields(), f"{where}: {key}"
            lines += 1
    assert lines > 0  # the glob found the job lists
