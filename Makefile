# comet-lab: every target installs what it needs (Node 24 from npm, Debian packages) before it runs.
# Node 24 is the project's runtime: node_modules/.bin/node, put there by `npm ci` (package "node"), never the host's.
SHELL := /bin/bash
NODE := node_modules/.bin/node
N ?= 100000
PROFILE ?= c1m
ARGS ?=
# lab-up: docker (compose on this engine) or swarm (services over the swarm this engine manages); lab-down: both unless set
BACKEND ?=

.PHONY: test typecheck deps system-deps flood compare report server loadgen doctor tune untune lab-up lab-down bench bench-server clean

## deps: npm ci, only when package-lock.json changed since the last install
deps: node_modules/.installed
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

## system-deps: the Debian packages the lab and its tests use (nginx+nchan, prometheus, chromium, docker)
system-deps:
	@bash scripts/install-system-deps.sh

typecheck: deps
	node_modules/.bin/tsc -p tsconfig.json

## test: every test of every component, against real processes, Prometheus, dockerd and Chromium
test: deps system-deps typecheck
	bash scripts/run-tests.sh

## flood N=100000: plan, ramp, hold, measure, report (backend auto: docker when the lab is up, else local)
flood: deps
	$(NODE) orchestrator/cli.ts flood --n $(N) $(ARGS)

## compare N=50000 TARGETS=comet-lab,nchan,nginx-idle,mochiweb: the same flood against each, one comparison report
TARGETS ?= comet-lab,nchan,nginx-idle,mochiweb
compare: deps system-deps
	$(NODE) orchestrator/cli.ts compare --n $(N) --targets "$(TARGETS)" $(ARGS)

report: deps
	$(NODE) orchestrator/cli.ts report $(ARGS)

server: deps
	$(NODE) --max-semi-space-size=1 server/cli.ts $(ARGS)

loadgen: deps
	$(NODE) loadgen/cli.ts $(ARGS)

doctor: deps
	$(NODE) kernel/cli.ts doctor --profile $(PROFILE) $(if $(filter command line,$(origin N)),--n $(N)) $(ARGS)

tune: deps
	$(NODE) kernel/cli.ts tune --profile $(PROFILE) $(ARGS)

untune: deps
	$(NODE) kernel/cli.ts untune $(ARGS)

lab-up: deps system-deps
	COMET_MAX_CONNECTIONS=$${COMET_MAX_CONNECTIONS:-$(N)} COMET_LAB_BACKEND=$(BACKEND) bash scripts/lab-up.sh

lab-down:
	COMET_LAB_BACKEND=$(BACKEND) bash scripts/lab-down.sh

## bench ARGS="--only memory --n 100000": the scale benchmark; one heavy run at a time (flock), results in bench/results/
bench: deps system-deps
	flock /tmp/comet-lab-heavy.lock $(NODE) bench/cli.ts $(ARGS)

bench-server: deps system-deps
	flock /tmp/comet-lab-heavy.lock $(NODE) server/bench/memory-per-stream.ts $(ARGS)

clean:
	rm -rf reports test-artifacts .lab
