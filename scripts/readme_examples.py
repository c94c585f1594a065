"""Run the README's examples: the ```bash blocks under the "CLI example" heading run in
one shell, and the ```python blocks under the "Python example" heading in one
interpreter, each in a fresh temporary directory. Exits non-zero if any fails."""

import os
import subprocess
import sys
import tempfile


def blocks(text: str, heading: str, lang: str) -> list[str]:
    """Code blocks of language `lang` in the section titled `heading` (headings inside
    code blocks, such as shell comments, do not count)."""
    found, current, in_section, fence = [], None, False, None
    for line in text.splitlines(keepends=True):
        if fence is None and line.startswith("#"):
            in_section = line.lstrip("#").strip() == heading
        elif line.startswith("```"):
            if fence is None:
                fence = line[3:].strip()
                current = [] if in_section and fence == lang else None
            else:
                if current is not None:
                    found.append("".join(current))
                fence, current = None, None
        elif current is not None:
            current.append(line)
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
