#!/usr/bin/env bash
# deps.sh installs what the Kafka compatibility suite needs and fetches
# Apache Kafka's tools and Java client, then writes their classpath where the
# tests look for it. It is what `make compat-deps` runs.
#
#   - Java 17+ (Kafka 4.x tools need it) with javac (a JDK: the suite
#     compiles its Java test programs in java/) and Maven, as Debian packages when
#     missing (apt-get, with sudo when not root);
#   - org.apache.kafka:kafka-tools, kafka-clients and Kafka Connect's
#     connect-runtime, connect-file, connect-mirror and connect-mirror-client,
#     and kafka-streams (kafka.version in pom.xml) with their runtime dependencies, through mvn into ~/.m2;
#   - their classpath, one line, into
#     ${KAFKI_KAFKA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kafki}/kafka-VERSION/classpath-HASH
#     (HASH: the first 12 hex digits of pom.xml's SHA-256)
#     (outside the repository), which compat's tests read.
#
# Idempotent and quick once done: nothing is fetched while the classpath file
# is newer than pom.xml and every jar it names still exists.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
pom=$here/pom.xml
version=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$pom")
if [[ -z $version ]]; then
	echo "compat-deps: no <kafka.version> in $pom" >&2
	exit 1
fi
cache=${KAFKI_KAFKA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kafki}/kafka-$version
# Named by pom.xml's content: worktrees or branches whose pom.xml lists
# other artifacts of the same Kafka version keep classpaths of their own
# in the shared cache instead of overwriting each other's.
cpfile=$cache/classpath-$(sha256sum "$pom" | cut -c1-12)

# java_ok: a java on PATH whose major version is at least 17.
java_ok() {
	command -v java >/dev/null 2>&1 || return 1
	local major
	major=$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n1)
	[[ -n $major && $major -ge 17 ]]
}

apt_install() {
	local sudo=()
	if [[ $(id -u) != 0 ]]; then
		command -v sudo >/dev/null 2>&1 || { echo "compat-deps: need root or sudo to install $*" >&2; return 1; }
		sudo=(sudo)
	fi
	echo "compat-deps: installing $* (Debian packages) for the Kafka compatibility suite"
	"${sudo[@]}" apt-get update -qq || true
	DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# javac: the suite compiles its own Java test programs (java/) against
# the Kafka jars; a JRE alone is not enough.
javac_ok() {
	command -v javac >/dev/null 2>&1
}

if ! java_ok || ! javac_ok; then
	# Debian 12 ships 17; later releases only newer JDKs, which run Kafka too.
	apt_install openjdk-17-jdk-headless || apt_install default-jdk-headless
fi
java_ok || { echo "compat-deps: Java 17 or newer is required and could not be installed" >&2; exit 1; }
javac_ok || { echo "compat-deps: a JDK (javac) is required and could not be installed" >&2; exit 1; }
command -v mvn >/dev/null 2>&1 || apt_install maven
command -v mvn >/dev/null 2>&1 || { echo "compat-deps: Maven is required and could not be installed" >&2; exit 1; }

cached() {
	[[ -s $cpfile ]] || return 1
	local jar jars
	IFS=: read -r -a jars <"$cpfile"
	for jar in "${jars[@]}"; do
		[[ -f $jar ]] || return 1
	done
}
if cached; then
	exit 0
fi

echo "compat-deps: fetching Apache Kafka $version tools, client and Connect jars (mvn)"
mkdir -p "$cache"
# Written under a name of this run, then renamed: two runs at once never
# leave a half-written classpath.
tmp=$cpfile.tmp.$$
log=$cpfile.mvn.log
# mvn's own output goes to a log, shown only when it fails.
if ! mvn -B -q -Dstyle.color=never -f "$pom" dependency:build-classpath \
	-DincludeScope=runtime -Dmdep.outputFile="$tmp" >"$log" 2>&1; then
	cat "$log" >&2
	echo "compat-deps: mvn failed fetching Apache Kafka $version (log above, kept in $log)" >&2
	exit 1
fi
# The classpath must name at least the tools, the client and Connect's
# runtime, FileStream and MirrorMaker 2 jars, and Kafka Streams.
for jar in kafka-tools kafka-clients connect-runtime connect-file connect-mirror connect-mirror-client kafka-streams; do
	grep -q "$jar-$version.jar" "$tmp" || {
		echo "compat-deps: mvn wrote no $jar-$version.jar to the classpath in $tmp" >&2
		exit 1
	}
done
mv "$tmp" "$cpfile"
echo "compat-deps: classpath in $cpfile"
