#!/bin/sh
# Writes a C file that defines NAME as the text of FILE, so a program carries it with no path.
# usage: embed.sh NAME FILE
set -eu
name=$1
file=$2
printf '/* Generated from %s by scripts/embed.sh: do not edit. */\n' "$file"
printf 'const char %s[] =\n' "$name"
sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/"/' -e 's/$/\\n"/' "$file"
printf ';\n'
