"""Run the README's examples: every ```bash block under the "CLI" heading runs in one
shell, and every ```python block under the "Python" heading runs in one interpreter,
each in a fresh temporary directory. Exits non-zero if any fails."""

import os
import re
import subprocess
import sys
import tempfile


def blocks(text: str, heading: str, lang: str) -> list[str]:
    section = re.search(rf"^#+ {re.escape(heading)}\n(.*?)(?=^#+ |\Z)", text, re.S | re.M)
    if not section:
        sys.exit(f"README has no '{heading}' section")
    found = re.findall(rf"```{lang}\n(.*?)```", section.group(1), re.S)
    if not found:
        sys.exit(f"README's '{heading}' section has no {lang} block")
    return found


def main() -> None:
    text = open(sys.argv[1], encoding="utf-8").read()
    for heading, lang, cmd in (("CLI example", "bash", ["bash", "-euxo", "pipefail", "-c"]),
                               ("Python example", "python", [sys.executable, "-c"])):
        code = "\n".join(blocks(text, heading, lang))
        with tempfile.TemporaryDirectory() as d:
            env = dict(os.environ)
            env.pop("LIBRARIAN_CONFIG", None)
            print(f"-- README {heading}", flush=True)
            subprocess.run(cmd + [code], cwd=d, env=env, check=True)


if __name__ == "__main__":
    main()
