#!/bin/bash
# lint.sh - `make lint`: clang-format check, cppcheck, and the banned-function check.
set -u
cd "$(dirname "$0")/.."
rc=0
files=$(git ls-files '*.c' '*.h')

echo "== clang-format"
if ! clang-format --dry-run -Werror $files 2>/dev/null; then
    clang-format --dry-run $files 2>&1 | grep -E '^[^ ].*warning' | cut -d: -f1 | sort -u | sed 's/^/  needs formatting: /'
    rc=1
fi

echo "== banned functions"
banned='\b(sprintf|vsprintf|strcpy|strcat|strtok|atoi|atol|atoll|sscanf|gmtime|localtime|strerror|gets|tmpnam|mktemp)\s*\('
if git ls-files '*.c' '*.h' | xargs grep -nP "$banned" | grep -vP '//|/\*.*\*/' ; then
    echo "  banned function used (see above)"
    rc=1
fi

echo "== cppcheck"
if ! cppcheck --quiet --error-exitcode=1 --std=c11 --enable=warning,portability,performance \
        --suppress=missingIncludeSystem --inline-suppr -Iinclude -D__GNUC__ src tools 2>&1; then
    rc=1
fi

[ $rc -eq 0 ] && echo "lint: clean" || echo "lint: problems found"
exit $rc
