#!/bin/sh
# find-moto-python.sh - prints the path of a python3 that can run moto's server mode
# ($MOTO_PYTHON if set, else python3 on PATH, else pyenv interpreters); exit 1 if none.
for p in ${MOTO_PYTHON:-} $(command -v python3 2>/dev/null) $(ls -d "$HOME"/.pyenv/versions/*/bin/python3 /root/.pyenv/versions/*/bin/python3 2>/dev/null); do
    if "$p" -c 'import moto.server, flask, boto3' 2>/dev/null; then
        echo "$p"
        exit 0
    fi
done
exit 1
