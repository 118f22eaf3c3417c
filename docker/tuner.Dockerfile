# The swarm lab's tuner (one-shot global job on every node): kernel/ (profiles, tune/untune), shared/ and the
# tuner's entrypoint, on the lab's Node base image. The Docker lab's compose tuner mounts these from the host instead;
# swarm nodes have no copy of the repository, so they travel in this image. No RUN step (the offline base has no
# shell). Build context: the repository's top (docker build -f docker/tuner.Dockerfile .).
ARG BASE_IMAGE=node:24-bookworm-slim
FROM ${BASE_IMAGE}
WORKDIR /lab
COPY shared ./shared
COPY kernel ./kernel
COPY docker/tuner-entrypoint.ts ./docker/tuner-entrypoint.ts
LABEL comet-lab.image=tuner
ENTRYPOINT ["node", "/lab/docker/tuner-entrypoint.ts"]
