# Sourced by quickstart.sh and test.sh: creates and activates .venv and installs torch
# first, pinned, so no other package can pull a CUDA build. Usage: install_emotionhub EXTRAS
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
# shellcheck disable=SC1091
source .venv/bin/activate
export PIP_DISABLE_PIP_VERSION_CHECK=1 HF_HUB_OFFLINE=1

install_emotionhub() {
  pip install -q "torch==2.13.0"
  pip install -q -e ".$1" -e plugins/facial_emotion -e plugins/text_sentiment -e plugins/image_sentiment
  # facenet-pytorch pins an old torch (<2.3) and torchvision: only its MTCNN code and
  # weights are used (ml/detection supplies the two torchvision ops it needs). Installed
  # last and without dependencies, so pip's resolver has nothing to report about its pins.
  pip install -q --no-deps "facenet-pytorch==2.6.0"
}

# install_test_plugins: the demo analyzers (example, text_length), the plugins that fail
# on purpose and a third-party plugin the core never names (tests/test_capabilities.py),
# visible to test runs only (pytest's pythonpath and PYTHONPATH), never to the quick start
# or a production install.
install_test_plugins() {
  rm -rf var/test-plugins
  pip install -q --no-deps --no-build-isolation --target var/test-plugins \
    tests/dummy_analyzer tests/fault_analyzers tests/third_party_analyzer
}

# apt_install_missing PROGRAM PACKAGE WHAT_NEEDS_IT: install a Debian package (as root) when
# PROGRAM is not on the PATH. Without it only WHAT_NEEDS_IT skips; under CI it is an error,
# so a CI run never passes by silently skipping.
apt_install_missing() {
  command -v "$1" >/dev/null && return 0
  if [ "$(id -u)" = 0 ]; then
    apt-get install -y -q --no-install-recommends "$2" >/dev/null 2>&1 \
      || { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends "$2" >/dev/null; } \
      && return 0
  fi
  echo "warning: could not install $2 (apt-get, as root); $3 will not run" >&2
  [ -z "${CI:-}" ]
}
