# The dsgym sandbox images (default, bio, predict, ...): a Python stack, an
# ipykernel, dsgym's kernel launcher and its submission checker
# (check-submission), run as an unprivileged user.  The images share this file
# and differ only in their requirements (sandboxes/<name>/requirements.txt).
#
# Built by `dsgym sandbox build`, which assembles the context (this file,
# sandboxes/ and a host-built wheelhouse/) so that nothing is fetched from
# inside the build.  BASE_IMAGE defaults to a Debian root filesystem made with
# debootstrap and `docker import`, tagged dsgym-base:<suite>-<hash of its
# package list> (dsgym/sandbox/images.py: BASE_PACKAGES, base_image_tag; the
# build always passes the tag it made, the default below is bookworm's).
# Where Docker Hub is reachable any image with python3 and its venv module
# works, e.g. --base-image python:3.11-slim, though LightGBM (predict image)
# also needs the system's libgomp.so.1 (Debian's libgomp1).
ARG BASE_IMAGE=dsgym-base:bookworm-0060f43e

FROM ${BASE_IMAGE} AS build
ARG REQUIREMENTS=sandboxes/default/requirements.txt
COPY ${REQUIREMENTS} /opt/dsgym/requirements.txt
COPY wheelhouse/ /tmp/wheelhouse/
RUN python3 -m venv /opt/dsgym/venv \
 && /opt/dsgym/venv/bin/pip install --no-cache-dir --no-index --find-links /tmp/wheelhouse \
        -r /opt/dsgym/requirements.txt

FROM ${BASE_IMAGE}
COPY --from=build /opt/dsgym /opt/dsgym
COPY sandboxes/kernel_launcher.py /opt/dsgym/kernel_launcher.py
# Warm caches (sandboxes/warm_caches.py): what a fresh sandbox would compile or build on first use
# (numba machine code for scanpy/umap/pynndescent, matplotlib's font list) is made here, once,
# and shipped read-only in /opt/dsgym/warm; the launcher mirrors it into /tmp at start.
# jit_cache.py (imported by a .pth line) turns on numba's disk cache for the few hot umap
# functions that do not ask for it.
COPY sandboxes/jit_cache.py sandboxes/warm_caches.py /opt/dsgym/
ARG REQUIREMENTS=sandboxes/default/requirements.txt
RUN site=$(/opt/dsgym/venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])') \
 && cp /opt/dsgym/jit_cache.py "$site/dsgym_jit_cache.py" \
 && echo "import dsgym_jit_cache" > "$site/dsgym-jit-cache.pth" \
 && HOME=/tmp NUMBA_CACHE_DIR=/opt/dsgym/warm/numba MPLCONFIGDIR=/opt/dsgym/warm/matplotlib \
    PYTHONDONTWRITEBYTECODE=1 OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 \
    /opt/dsgym/venv/bin/python /opt/dsgym/warm_caches.py "$(basename "$(dirname "$REQUIREMENTS")")" \
 && mkdir -p /opt/dsgym/warm && chmod -R a+rX,go-w /opt/dsgym/warm
# dsgym/predict/submission.py, a standalone script (stdlib, numpy, pandas); dsgym/predict/metrics.py
# (the same imports), importable in the kernel as dsgym_metrics: code in the sandbox scores as dsgym grades
COPY sandboxes/check_submission.py /opt/dsgym/venv/bin/check-submission
COPY sandboxes/dsgym_metrics.py /opt/dsgym/dsgym_metrics.py
RUN chmod 0755 /opt/dsgym/venv/bin/check-submission \
 && site=$(/opt/dsgym/venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])') \
 && mv /opt/dsgym/dsgym_metrics.py "$site/dsgym_metrics.py" \
 && (groupadd -g 1000 agent && useradd -u 1000 -g 1000 -M -d /workspace -s /usr/sbin/nologin agent) \
 && mkdir -p /data /workspace /run/dsgym && chown 1000:1000 /workspace
# Bundled copies of the data sets this image's prediction tasks grade against are deleted
# (sandboxes/withhold_data.py, list in sandboxes/<name>/withheld-data.txt); last, so that the
# warm-up above can still read them.
ARG WITHHELD=sandboxes/default/withheld-data.txt
COPY sandboxes/withhold_data.py ${WITHHELD} /tmp/withhold/
RUN /opt/dsgym/venv/bin/python /tmp/withhold/withhold_data.py /tmp/withhold/withheld-data.txt \
 && rm -rf /tmp/withhold
ENV PATH=/opt/dsgym/venv/bin:/usr/local/bin:/usr/bin:/bin \
    HOME=/workspace \
    MPLCONFIGDIR=/tmp/matplotlib \
    NUMBA_CACHE_DIR=/tmp/numba \
    DSGYM_WARM_CACHE=/opt/dsgym/warm \
    IPYTHONDIR=/tmp/ipython \
    JUPYTER_RUNTIME_DIR=/tmp/jupyter \
    PYTHONDONTWRITEBYTECODE=1 \
    OPENBLAS_NUM_THREADS=1 \
    OMP_NUM_THREADS=1
USER 1000:1000
WORKDIR /workspace
CMD ["python", "/opt/dsgym/kernel_launcher.py", "/run/dsgym", "/workspace"]
