# Sourced by ./mvnw, ./lowbit and .ci/run: finds a JDK 25+ and exports JAVA_HOME.
# Order: $JAVA_HOME if it is 25 or newer, else the newest JDK 25+ under /usr/lib/jvm, else a one-line error.
lowbit_java_major() { # prints the feature version of the java in $1/bin/java, or nothing
  [ -x "$1/bin/java" ] || return 0
  "$1/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java\.specification\.version = \([0-9]*\).*/\1/p' | head -n 1
}
lowbit_find_jdk() {
  local v
  if [ -n "${JAVA_HOME:-}" ]; then
    v=$(lowbit_java_major "$JAVA_HOME")
    if [ -n "$v" ] && [ "$v" -ge 25 ] && [ -x "$JAVA_HOME/bin/javac" ]; then echo "$JAVA_HOME"; return 0; fi
  fi
  local best="" bestv=0 d
  for d in /usr/lib/jvm/*/; do
    d=${d%/}
    [ -x "$d/bin/javac" ] || continue
    v=$(lowbit_java_major "$d")
    if [ -n "$v" ] && [ "$v" -ge 25 ] && [ "$v" -gt "$bestv" ]; then best=$d; bestv=$v; fi
  done
  [ -n "$best" ] && { echo "$best"; return 0; }
  return 1
}
if ! LOWBIT_JDK=$(lowbit_find_jdk); then
  echo "lowbit: no JDK 25 found (JAVA_HOME is '${JAVA_HOME:-unset}', nothing 25+ under /usr/lib/jvm); install one, e.g. 'apt-get install temurin-25-jdk', or set JAVA_HOME" >&2
  exit 2
fi
export JAVA_HOME=$LOWBIT_JDK
