/*
 * Include once in a program that hosts librdkafka's mock cluster (rdkafka_mock.h): its brokers
 * then set TCP_NODELAY on the connections they accept, as a Kafka broker does
 * (socket.tcp.no.delay / SocketServer). librdkafka 2.0.2's mock does not, so with Nagle's
 * algorithm a response written while the client has not yet acknowledged the previous one
 * waits for the client's delayed ACK (40 ms on Linux): a producer with several requests in
 * flight then sees 10-45 ms round trips on loopback instead of well under 1 ms.
 * How: this accept() is the program's own, so librdkafka's call to accept() binds to it (the
 * executable's definitions come first in symbol lookup); it calls the C library's accept()
 * (dlsym RTLD_NEXT) and sets the option on the new socket. Only mock brokers accept
 * connections in these programs; a failed setsockopt is ignored (the socket still works).
 */
#ifndef SQLFLUME_MOCK_NODELAY_H
#define SQLFLUME_MOCK_NODELAY_H

#include <dlfcn.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

int accept(int fd, struct sockaddr *addr, socklen_t *len)
{
    typedef int (*accept_fn)(int, struct sockaddr *, socklen_t *);
    static accept_fn real;
    if (!real) {
        real = (accept_fn)dlsym(RTLD_NEXT, "accept");
    }
    int s = real(fd, addr, len);
    if (s >= 0) {
        int one = 1;
        (void)setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    return s;
}

#endif
