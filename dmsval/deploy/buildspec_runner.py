"""Run a CodeBuild buildspec's commands locally, the way CodeBuild runs them (for tests and dry runs).

What is reproduced (buildspec version 0.2):

* phases run in order ``install``, ``pre_build``, ``build``, ``post_build``, each phase's ``commands`` in order;
* all commands run in ONE bash process (0.2 semantics: a ``cd`` or ``export`` carries over to later commands);
* the environment is the caller's environment, overlaid by the buildspec's ``env.variables``, overlaid by the
  given variables (CodeBuild: start-build overrides > project variables > buildspec variables);
* the run stops at the first command that exits non-zero.

What is not: ``runtime-versions`` (ignored: use the current interpreter), ``finally`` blocks, ``on-failure``,
``env.parameter-store`` / ``env.secrets-manager`` (refused with an error rather than silently skipped),
``reports`` and ``artifacts`` (nothing is uploaded; the files stay where the commands wrote them).

    python -m dmsval.deploy.buildspec_runner buildspec.yml --skip-install --env DMS_EVENT="$(cat event.json)"
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import yaml

PHASES = ("install", "pre_build", "build", "post_build")
UNSUPPORTED_ENV_KEYS = ("parameter-store", "secrets-manager")
UNSUPPORTED_PHASE_KEYS = ("finally", "on-failure")


class BuildspecError(ValueError):
    """The buildspec cannot be run locally (malformed, or uses something this runner does not reproduce)."""


@dataclass(frozen=True)
class CommandResult:
    phase: str
    command: str
    returncode: int


@dataclass
class BuildspecRun:
    """Per-command exit codes of the commands that ran (in order), plus the combined output if captured."""

    results: list[CommandResult]
    not_run: list[tuple[str, str]] = field(default_factory=list)  # (phase, command) after a failure
    output: str = ""

    @property
    def returncode(self) -> int:
        """0 when every command ran and exited 0, else the exit code of the failing command."""
        for result in self.results:
            if result.returncode != 0:
                return result.returncode
        return 0

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.not_run

    def returncodes(self) -> list[int]:
        return [r.returncode for r in self.results]


def load_buildspec(path: str | Path) -> dict[str, Any]:
    spec = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    if not isinstance(spec, dict):
        raise BuildspecError(f"{path}: a buildspec must be a YAML mapping")
    if str(spec.get("version")) != "0.2":
        raise BuildspecError(f"{path}: only buildspec version 0.2 is supported, got {spec.get('version')!r}")
    return spec


def planned_commands(spec: Mapping[str, Any], *, skip_install: bool = False,
                     phases: Sequence[str] | None = None) -> list[tuple[str, str]]:
    """(phase, command) pairs in the order CodeBuild runs them."""
    chosen = [p for p in (phases or PHASES) if not (skip_install and p == "install")]
    unknown = set(chosen) - set(PHASES)
    if unknown:
        raise BuildspecError(f"unknown phases {sorted(unknown)}; phases are {', '.join(PHASES)}")
    spec_phases = spec.get("phases") or {}
    planned = []
    for phase in PHASES:
        if phase not in chosen or phase not in spec_phases:
            continue
        body = spec_phases[phase] or {}
        for key in UNSUPPORTED_PHASE_KEYS:
            if key in body:
                raise BuildspecError(f"phase {phase}: '{key}' is not reproduced by the local runner")
        for command in body.get("commands") or []:
            if not isinstance(command, str):
                raise BuildspecError(f"phase {phase}: commands must be strings, got {command!r}")
            planned.append((phase, command))
    return planned


def buildspec_variables(spec: Mapping[str, Any]) -> dict[str, str]:
    env = spec.get("env") or {}
    for key in UNSUPPORTED_ENV_KEYS:
        if key in env:
            raise BuildspecError(f"env.{key} is not reproduced by the local runner: pass the values with env=")
    return {str(k): "" if v is None else str(v) for k, v in (env.get("variables") or {}).items()}


def _driver_script(planned: list[tuple[str, str]], rc_file: str) -> str:
    lines = [f"__dmsval_rc_file={shlex.quote(rc_file)}"]
    for index, (_, command) in enumerate(planned):
        lines += [
            f"eval {shlex.quote(command)}",
            "__dmsval_rc=$?",
            f'printf "%s %s\\n" {index} "$__dmsval_rc" >> "$__dmsval_rc_file"',
            'if [ "$__dmsval_rc" -ne 0 ]; then exit "$__dmsval_rc"; fi',
        ]
    return "\n".join(lines) + "\n"


def run_buildspec(path: str | Path, env: Mapping[str, str] | None = None, *, cwd: str | Path | None = None,
                  skip_install: bool = False, phases: Sequence[str] | None = None, inherit_env: bool = True,
                  capture: bool = True, timeout_s: float | None = None) -> BuildspecRun:
    """Run the buildspec's commands in one bash process; stop at the first failure.

    ``cwd`` is where the commands start (CodeBuild: the source root; default: the current directory).
    ``skip_install`` leaves out the install phase (the packages are already there).
    """
    spec = load_buildspec(path)
    planned = planned_commands(spec, skip_install=skip_install, phases=phases)
    full_env = dict(os.environ) if inherit_env else {}
    full_env.update(buildspec_variables(spec))
    full_env.update(env or {})
    shell = (spec.get("env") or {}).get("shell", "bash")
    if shell not in ("bash", "sh"):
        raise BuildspecError(f"env.shell {shell!r}: only bash is supported locally")
    with tempfile.TemporaryDirectory(prefix="buildspec-") as tmp:
        rc_file = os.path.join(tmp, "rc")
        script = os.path.join(tmp, "driver.sh")
        Path(script).write_text(_driver_script(planned, rc_file), encoding="utf-8")
        done = subprocess.run(["bash", script], cwd=cwd, env=full_env, timeout=timeout_s,
                              stdout=subprocess.PIPE if capture else None,
                              stderr=subprocess.STDOUT if capture else None, text=True)
        recorded = {}
        if os.path.exists(rc_file):
            for line in Path(rc_file).read_text().splitlines():
                index, rc = line.split()
                recorded[int(index)] = int(rc)
    results = []
    for index, (phase, command) in enumerate(planned):
        if index in recorded:
            results.append(CommandResult(phase, command, recorded[index]))
            if recorded[index] != 0:
                break
        else:
            # the command ended the shell itself (exit N): the shell's status is the command's, and nothing
            # after it runs
            results.append(CommandResult(phase, command, done.returncode))
            break
    not_run = planned[len(results):]
    return BuildspecRun(results, not_run, done.stdout or "")


def _parse_env(pairs: Sequence[str]) -> dict[str, str]:
    env = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise SystemExit(f"--env expects NAME=VALUE, got {pair!r}")
        env[name] = value
    return env


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dmsval.deploy.buildspec_runner", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("buildspec", help="path of the buildspec (version 0.2)")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="environment variable for the build (repeatable)")
    parser.add_argument("--skip-install", action="store_true", help="leave out the install phase")
    parser.add_argument("--phase", action="append", choices=PHASES, help="run only these phases (repeatable)")
    args = parser.parse_args(argv)
    try:
        run = run_buildspec(args.buildspec, _parse_env(args.env), skip_install=args.skip_install,
                            phases=args.phase, capture=False)
    except BuildspecError as e:
        print(f"buildspec_runner: {e}", file=sys.stderr)
        return 2
    for result in run.results:
        print(f"[{result.phase}] exit {result.returncode}: {result.command}", file=sys.stderr)
    for phase, command in run.not_run:
        print(f"[{phase}] not run: {command}", file=sys.stderr)
    return run.returncode


if __name__ == "__main__":
    sys.exit(main())
