/* Command-line options of cws-client. */
#ifndef CLIENT_OPTIONS_H
#define CLIENT_OPTIONS_H

/* Keepalive unless told otherwise: the runtime's own defaults
 * (cws_client_config.ping_interval_ms and pong_timeout_ms). */
#define CLIENT_KEEPALIVE_DEFAULT 30.0
#define CLIENT_KEEPALIVE_TIMEOUT_DEFAULT 10.0

typedef struct client_options {
    const char *url;
    const char *subprotocol; /* offered subprotocol(s), or NULL */
    char *headers;           /* "Name: value\r\n" lines, or NULL (owned) */
    double ping_seconds;     /* 0: no pings */
    double keepalive;        /* seconds between keepalive pings; 0: none */
    double keepalive_timeout;/* seconds a keepalive pong may take */
    int binary;              /* send lines as binary, print binary raw */
    int raw;                 /* print text as it came, control bytes too */
    int verbose;             /* connection details on stderr */
    int deflate;             /* offer permessage-deflate */
    const char *cafile;      /* wss://: CAs to trust instead of the system's */
    int insecure;            /* wss://: no certificate check at all */
} client_options;

/* Returns 0 to run, 1 after printing --help, 2 on bad usage (already
 * reported on stderr). */
int client_options_parse(client_options *o, int argc, char **argv);
void client_options_free(client_options *o);

#endif
