/*
 * GET /metrics: Prometheus's text format. Messages by state, jobs by
 * state, queue depth, uploads since start and a histogram of transcode
 * seconds. Open to a loopback peer without a token, to anyone else with
 * --metrics-token as a bearer token.
 */
#ifndef CHORUS_METRICS_H
#define CHORUS_METRICS_H

struct request;

int metrics_get(struct request *req);

#endif
