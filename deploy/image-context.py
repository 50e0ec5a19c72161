#!/usr/bin/env python3
"""Lays out what `docker build -f deploy/Dockerfile .` gives the Dockerfile's build stage, without a
Docker engine.

Usage: image-context.py CONTEXT DOCKERFILE STAGE_DIR

Reads CONTEXT/.dockerignore with the Docker SDK's own matcher (the `docker` package), then follows
the first stage's WORKDIR and COPY instructions: each COPY takes its sources from the context as the
engine would see it, into STAGE_DIR, which stands for the stage's WORKDIR. A COPY whose source the
context lacks is an error, as it is for `docker build`. Prints the stage's RUN commands.
"""
import glob
import os
import shutil
import sys

from docker.utils.build import exclude_paths


def instructions(dockerfile):
    """(keyword, arguments) per instruction, continuation lines joined, comments dropped."""
    text = ""
    for line in open(dockerfile):
        stripped = line.strip()
        if stripped.startswith("#"):
            continue
        text += line.rstrip("\n")
        if text.endswith("\\"):
            text = text[:-1] + " "
            continue
        if text.strip():
            keyword, _, arguments = text.strip().partition(" ")
            yield keyword.upper(), arguments.strip()
        text = ""


def main(context, dockerfile, stage):
    ignore = os.path.join(context, ".dockerignore")
    patterns = [line.strip() for line in open(ignore) if line.strip() and not line.startswith("#")] if os.path.exists(ignore) else []
    visible = exclude_paths(context, patterns, dockerfile=os.path.relpath(dockerfile, context))
    workdir = None
    stages = 0
    for keyword, arguments in instructions(dockerfile):
        if keyword == "FROM":
            stages += 1
            if stages > 1:
                break
        elif keyword == "WORKDIR":
            workdir = arguments
        elif keyword == "COPY":
            words = arguments.split()
            if any(word.startswith("--from") for word in words):
                continue
            words = [word for word in words if not word.startswith("--")]
            *sources, destination = words
            if os.path.isabs(destination) and workdir and not destination.startswith(workdir):
                sys.exit(f"COPY {arguments}: outside WORKDIR {workdir}, not laid out")
            target = os.path.join(stage, os.path.relpath(os.path.join(workdir or "/", destination), workdir or "/"))
            for source in sources:
                matches = [m for m in glob.glob(source, root_dir=context) if os.path.normpath(m) in visible]
                if not matches:
                    sys.exit(f"COPY {arguments}: {source} is not in the build context (missing or excluded by .dockerignore)")
                for match in matches:
                    copy(context, os.path.normpath(match), target, visible, into=destination.endswith("/") or len(sources) > 1)
        elif keyword == "RUN":
            print(arguments)


def copy(context, path, target, visible, into):
    """Copies `path` (a file, or a directory's visible files) as COPY does."""
    source = os.path.join(context, path)
    if os.path.isdir(source):
        for name in sorted(visible):
            if (name == path or name.startswith(path + os.sep)) and os.path.isfile(os.path.join(context, name)):
                destination = os.path.join(target, os.path.relpath(name, path))
                os.makedirs(os.path.dirname(destination), exist_ok=True)
                shutil.copy2(os.path.join(context, name), destination)
    else:
        destination = os.path.join(target, os.path.basename(path)) if into else target
        os.makedirs(os.path.dirname(destination), exist_ok=True)
        shutil.copy2(source, destination)


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(*sys.argv[1:])
