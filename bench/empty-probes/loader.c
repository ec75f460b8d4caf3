// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Loads empty_probes.bpf.o and attaches every program, prints
 * "attached N" once they all are, and detaches when stdin closes or on
 * SIGINT/SIGTERM. bench/capture-overhead.ts runs it as its "empty" column.
 */
#include <bpf/libbpf.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : "empty_probes.bpf.o";
	struct bpf_object *obj = bpf_object__open_file(path, NULL);
	struct bpf_program *prog;
	int attached = 0;

	if (!obj) {
		fprintf(stderr, "open %s: %s\n", path, strerror(errno));
		return 1;
	}
	if (bpf_object__load(obj)) {
		fprintf(stderr, "load %s: %s\n", path, strerror(errno));
		return 1;
	}
	bpf_object__for_each_program(prog, obj) {
		if (!bpf_program__attach(prog)) {
			fprintf(stderr, "attach %s: %s\n", bpf_program__name(prog), strerror(errno));
			return 1;
		}
		attached++;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	printf("attached %d\n", attached);
	fflush(stdout);
	char c;
	while (!stop && read(0, &c, 1) > 0)
		;
	bpf_object__close(obj);
	return 0;
}
