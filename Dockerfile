# syntax=docker/dockerfile:1
# flashsale-stream: one image for `flashsale worker`, `flashsale migrate` and `flashsale simulate`.
#
#   docker build -t flashsale-stream .                          # torch from the default index (CUDA build)
#   docker build --build-arg TORCH_INDEX_URL=<a CPU-only PyTorch wheel index> -t flashsale-stream:cpu .
#
# Every Python package is pinned by constraints.txt. torch is installed first, alone, from TORCH_INDEX_URL
# when one is given, so an image can carry the CPU wheel (2.x.y+cpu satisfies the pin torch==2.x.y)
# instead of the CUDA wheel and its multi-GB nvidia-* dependencies; the next step keeps it.

ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS build
ARG TORCH_INDEX_URL=
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src

# Dependencies first, in their own layers: a code change does not reinstall torch.
COPY constraints.txt pyproject.toml ./
# --no-deps: only the torch wheel comes from TORCH_INDEX_URL; its dependencies come from PyPI, pinned.
RUN pip install --no-deps -c constraints.txt ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"} torch
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -c constraints.txt -r /tmp/requirements.txt

COPY README.md ./
COPY streams ./streams
COPY models ./models
COPY infra ./infra
RUN pip install -c constraints.txt . \
    && pip check

FROM ${PYTHON_IMAGE} AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    FLASHSALE_DATA_DIR=/var/lib/flashsale
RUN groupadd --system --gid 10001 flashsale \
    && useradd --system --uid 10001 --gid flashsale --create-home --home-dir /home/flashsale flashsale \
    && install -d -o flashsale -g flashsale /var/lib/flashsale
COPY --from=build /opt/venv /opt/venv
USER flashsale
WORKDIR /home/flashsale
# Faust worker web port (metrics).
EXPOSE 6066
ENTRYPOINT ["flashsale"]
CMD ["--help"]
