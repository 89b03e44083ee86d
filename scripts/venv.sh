# Sourced by quickstart.sh and test.sh: creates and activates .venv and installs torch
# first, pinned, so no other package can pull a CUDA build. Usage: install_emotionhub EXTRAS
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
# shellcheck disable=SC1091
source .venv/bin/activate
export PIP_DISABLE_PIP_VERSION_CHECK=1 HF_HUB_OFFLINE=1

install_emotionhub() {
  pip install -q "torch==2.13.0"
  # facenet-pytorch pins an old torch and torchvision: only its MTCNN code and weights
  # are used (ml/detection supplies the two torchvision ops it needs).
  pip install -q --no-deps "facenet-pytorch==2.6.0"
  pip install -q -e ".$1" -e tests/dummy_analyzer -e plugins/facial_emotion -e plugins/text_sentiment -e plugins/image_sentiment
}
