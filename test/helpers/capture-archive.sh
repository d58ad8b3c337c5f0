#!/bin/sh
# A stand-in archive_command for harness tests and fixture generation:
#   archive_command=/path/capture-archive.sh DEST %path %name
# Copies the finished segment to DEST/%name (never moves %path) and appends %name to DEST/calls.txt.
set -eu
dest=$1 path=$2 name=$3
cp "$path" "$dest/.$name.tmp"
mv "$dest/.$name.tmp" "$dest/$name"
echo "$name" >> "$dest/calls.txt"
