/* udp-flood DST PORT SECONDS [SPORT [PPS]]: sends small UDP datagrams to DST:PORT for SECONDS
 * (sendmmsg, 64 at a time), as fast as it can or at PPS packets per second (0: as fast as it
 * can), then prints the number sent and the rate. A source of
 * "100k packets per second of denied traffic" for the monitor's rate-limit test and benchmark;
 * the receiver need not exist (nothing is read back). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: udp-flood DST PORT SECONDS [SPORT [PPS]]\n");
		return 2;
	}
	struct sockaddr_in dst = { .sin_family = AF_INET, .sin_port = htons(atoi(argv[2])) };
	if (inet_pton(AF_INET, argv[1], &dst.sin_addr) != 1) {
		fprintf(stderr, "udp-flood: %s is not an IPv4 address\n", argv[1]);
		return 2;
	}
	double seconds = atof(argv[3]);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0) {
		perror("udp-flood: socket");
		return 1;
	}
	double pps = argc > 5 ? atof(argv[5]) : 0;
	if (argc > 4 && atoi(argv[4]) != 0) {
		struct sockaddr_in src = { .sin_family = AF_INET, .sin_port = htons(atoi(argv[4])) };
		int one = 1; /* several senders may share the source port */
		setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
		if (bind(fd, (struct sockaddr *)&src, sizeof(src)) < 0) {
			perror("udp-flood: bind");
			return 1;
		}
	}
	if (connect(fd, (struct sockaddr *)&dst, sizeof(dst)) < 0) {
		perror("udp-flood: connect");
		return 1;
	}
	static char payload[18] = "microseg flood";
	struct iovec iov = { .iov_base = payload, .iov_len = sizeof(payload) };
	struct mmsghdr msgs[BATCH];
	memset(msgs, 0, sizeof(msgs));
	for (int i = 0; i < BATCH; i++) {
		msgs[i].msg_hdr.msg_iov = &iov;
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	unsigned long long sent = 0;
	double start = now(), end = start + seconds, t = start;
	while (t < end) {
		if (pps > 0 && sent >= (t - start) * pps) {
			/* ahead of the rate: wait for the next batch's time */
			double ahead = sent / pps - (t - start);
			struct timespec pause = { .tv_sec = 0, .tv_nsec = (long)(ahead * 1e9) };
			nanosleep(&pause, NULL);
			t = now();
			continue;
		}
		int n = sendmmsg(fd, msgs, BATCH, 0);
		if (n < 0) {
			/* A full queue or an ICMP error answered on the connected socket: go on. */
			if (errno != ENOBUFS && errno != EAGAIN && errno != ECONNREFUSED && errno != EINTR) {
				perror("udp-flood: sendmmsg");
				return 1;
			}
		} else {
			sent += n;
		}
		t = now();
	}
	printf("%llu %.0f\n", sent, sent / (t - start));
	return 0;
}
