"""Print the uv flags that make `uv pip install` see what pip sees on this machine.

uv reads none of pip's configuration (pip.conf, /etc/xdg/pip, PIP_* variables), so a machine whose
pip finds wheels on local disk or is capped by a constraints file would send uv to PyPI for
several GB of CUDA wheels, or past the cap. This reads `pip config list` and translates the
settings that decide what gets installed; the Makefile passes the output to uv.
Usage: python3 tools/pip2uv.py [build]   (flags for `uv pip install`, or for `uv build`; one per line)
"""

import ast
import subprocess
import sys

# pip setting -> uv flag; values may list several entries separated by whitespace
FLAGS = {
    "index-url": "--index-url",
    "extra-index-url": "--extra-index-url",
    "find-links": "--find-links",
    "constraint": "--constraint",
    "no-index": "--no-index",
}
SWITCHES = {"no-index"}  # true/false settings: a flag without a value


def parse(listing: str) -> dict[str, list[str]]:
    """`pip config list` output as {setting: [values]}, each value once, in the order pip lists them.

    pip prints each value as a Python literal (``'a b'``, or ``'\\na\\nb'`` for a multi-line pip.conf
    entry); a list setting holds several values separated by whitespace."""
    settings: dict[str, list[str]] = {}
    for line in listing.splitlines():
        key, _, value = line.partition("=")
        name = key.rpartition(".")[2]  # global.find-links, :env:.find-links, install.constraint ...
        if name in FLAGS and value.strip():
            text = ast.literal_eval(value.strip())
            for item in [text] if name in SWITCHES else text.split():
                if item not in settings.setdefault(name, []):
                    settings[name].append(item)
    return settings


def uv_flags(settings: dict[str, list[str]], command: str = "pip") -> list[str]:
    """The flags for ``uv pip install``, or for ``uv build`` (whose constraints are ``--build-constraints``)."""
    names = {**FLAGS, "constraint": "--build-constraints"} if command == "build" else FLAGS
    flags = [f"{names[name]}={item}" for name, items in settings.items() if name not in SWITCHES for item in items]
    flags += [FLAGS[n] for n in SWITCHES if settings.get(n, ["false"])[-1].lower() in ("1", "true", "yes", "on")]
    if "index-url" in settings or "extra-index-url" in settings:
        flags.append("--index-strategy=unsafe-best-match")  # pip picks the best version across indexes
    return flags


if __name__ == "__main__":
    listing = subprocess.run([sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True).stdout
    print("\n".join(uv_flags(parse(listing), *sys.argv[1:2])))
