#!/usr/bin/python3
"""A WebHDFS test server (Python standard library only): a namenode and a datanode on two ports
of one host, storing the file system under a local directory, following Hadoop's "WebHDFS REST
API" documentation where it matters to a writer:

  namenode  http://HOST:NN_PORT/webhdfs/v1/PATH?op=...
    PUT  CREATE [overwrite=false] [noredirect=true]   307 Location: the datanode (no body is read)
    POST APPEND [noredirect=true]                     307 (FileNotFoundException: 404 if missing)
    GET  OPEN [offset] [length] [noredirect=true]     307 (FileNotFoundException: 404 if missing)
         with noredirect=true: 200 {"Location": "http://HOST:DN_PORT/..."} instead of the 307
    PUT  MKDIRS                                       {"boolean": true} (parents too)
    PUT  RENAME destination=/P                        {"boolean": false} for a missing source, an
         existing destination file, a missing destination parent; an existing destination
         directory gets the source inside it (FileSystem.rename)
    GET  GETFILESTATUS                                {"FileStatus": {...}}
    GET  LISTSTATUS                                   {"FileStatuses": {"FileStatus": [...]}}
    DELETE DELETE [recursive=false]                   {"boolean": true|false}
    POST TRUNCATE newlength=N                         {"boolean": true}; {"boolean": false} with
         the truncate_recovery fault (the new length shows once the "block recovery" is over)
  datanode  http://HOST:DN_PORT/webhdfs/v1/PATH?op=CREATE|APPEND|OPEN&namenoderpcaddress=...
    PUT CREATE (body: the data, Content-Length or chunked) 201, Location: hdfs://HOST:NN_PORT/PATH
        (FileAlreadyExistsException: 403 when it exists and overwrite is not true)
    POST APPEND (body) 200; GET OPEN 200 with the bytes.
  Errors are {"RemoteException": {"exception": ..., "javaClassName": ..., "message": ...}} with
  Hadoop's status codes (400 IllegalArgumentException, 403 FileAlreadyExistsException /
  AlreadyBeingCreatedException / PathIsNotEmptyDirectoryException, 404 FileNotFoundException).
  A file being written (a CREATE or APPEND upload in progress) cannot be written by another
  CREATE or APPEND (AlreadyBeingCreatedException), as HDFS's lease says.

Faults, from the command line or at run time through the namenode's control endpoint
(POST http://HOST:NN_PORT/control?...; it answers {"ok": true, "faults": {...}}):
  --nn-503 SECONDS     / fault=nn503&seconds=S        the namenode answers 503 (RetriableException)
                                                      to every WebHDFS request for S seconds
  --dn-refuse          / fault=dn_refuse&on=true|false the datanode stops listening (connections
                                                      are refused; the open ones are shut down,
                                                      as a datanode's crash would) / listens again
  --dn-delay SECONDS   / fault=dn_delay&seconds=S     the datanode waits S seconds before each answer
                         [&op=OP]  (--dn-delay-op OP)  ... to OP requests only (e.g. APPEND: a
                                                      slow datanode that still takes CREATEs);
                                                      without op every request waits
  --truncate-recovery SECONDS / fault=truncate_recovery&seconds=S   TRUNCATE answers false and
                                                      cuts the file S seconds later (HDFS when the
                                                      last block must be recovered first)
  --httpfs             / fault=httpfs&on=true|false    the namenode port acts as an HttpFS gateway
                                                      for CREATE and APPEND: a 307 to itself with
                                                      data=true, which takes the data (it must be
                                                      Content-Type: application/octet-stream)
                         fault=clear                  all of them off
  GET /control answers the current faults; GET /control/stats counts requests by op ("nn OP",
  "dn OP") and the namenode's by user.name ("user.name NAME", "user.name " without one).

Usage: webhdfs_server.py --root DIR --nn-port P --dn-port Q [--host 127.0.0.1] [faults]
It prints "READY nn=P dn=Q" on stdout once both ports listen, and runs until SIGTERM/SIGINT.
"""
import argparse
import collections
import json
import os
import shutil
import signal
import socket
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BLOCK_SIZE = 134217728
EXC = {
    "FileNotFoundException": ("java.io.FileNotFoundException", 404),
    "FileAlreadyExistsException": ("org.apache.hadoop.fs.FileAlreadyExistsException", 403),
    "AlreadyBeingCreatedException": (
        "org.apache.hadoop.hdfs.protocol.AlreadyBeingCreatedException", 403),
    "PathIsNotEmptyDirectoryException": (
        "org.apache.hadoop.fs.PathIsNotEmptyDirectoryException", 403),
    "IllegalArgumentException": ("java.lang.IllegalArgumentException", 400),
    "HadoopIllegalArgumentException": ("org.apache.hadoop.HadoopIllegalArgumentException", 400),
    "UnsupportedOperationException": ("java.lang.UnsupportedOperationException", 400),
    "RetriableException": ("org.apache.hadoop.ipc.RetriableException", 503),
    "IOException": ("java.io.IOException", 500),
}


class Remote(Exception):
    def __init__(self, exc, message):
        super().__init__(message)
        self.exc, self.message = exc, message


class FS:
    """The file system under root, with HDFS's checks; every method holds the lock."""

    def __init__(self, root):
        self.root = os.path.abspath(root)
        os.makedirs(self.root, exist_ok=True)
        self.lock = threading.RLock()
        self.writing = set()  # HDFS paths with an upload in progress (the lease)
        self.file_ids = {}

    def local(self, path):
        norm = os.path.normpath("/" + path.lstrip("/"))
        return self.root + ("" if norm == "/" else norm), norm

    def status(self, path, suffix=""):
        loc, norm = self.local(path)
        st = os.stat(loc)
        is_dir = os.path.isdir(loc)
        fid = self.file_ids.setdefault(norm, 16386 + len(self.file_ids))
        return {
            "accessTime": 0 if is_dir else int(st.st_atime * 1000),
            "blockSize": 0 if is_dir else BLOCK_SIZE,
            "childrenNum": len(os.listdir(loc)) if is_dir else 0,
            "fileId": fid,
            "group": "supergroup",
            "length": 0 if is_dir else st.st_size,
            "modificationTime": int(st.st_mtime * 1000),
            "owner": "sqlflume",
            "pathSuffix": suffix,
            "permission": "755" if is_dir else "644",
            "replication": 0 if is_dir else 3,
            "storagePolicy": 0,
            "type": "DIRECTORY" if is_dir else "FILE",
        }

    def need(self, path):
        loc, norm = self.local(path)
        if not os.path.exists(loc):
            raise Remote("FileNotFoundException", "File does not exist: %s" % norm)
        return loc, norm

    def getfilestatus(self, path):
        with self.lock:
            self.need(path)
            return {"FileStatus": self.status(path)}

    def liststatus(self, path):
        with self.lock:
            loc, norm = self.need(path)
            if not os.path.isdir(loc):
                return {"FileStatuses": {"FileStatus": [self.status(path)]}}
            out = [self.status(norm.rstrip("/") + "/" + n, n) for n in sorted(os.listdir(loc))]
            return {"FileStatuses": {"FileStatus": out}}

    def mkdirs(self, path):
        with self.lock:
            loc, norm = self.local(path)
            p = loc
            while p != self.root:
                if os.path.exists(p) and not os.path.isdir(p):
                    raise Remote("FileAlreadyExistsException",
                                 "Path is not a directory: %s" % p[len(self.root):])
                p = os.path.dirname(p)
            os.makedirs(loc, exist_ok=True)
            return {"boolean": True}

    def rename(self, src, dst):
        with self.lock:
            sloc, snorm = self.local(src)
            dloc, dnorm = self.local(dst)
            if not os.path.exists(sloc) or snorm == "/":
                return {"boolean": False}
            if os.path.isdir(dloc):
                dloc = os.path.join(dloc, os.path.basename(sloc))
                dnorm = dnorm.rstrip("/") + "/" + os.path.basename(sloc)
            if os.path.exists(dloc) or not os.path.isdir(os.path.dirname(dloc)):
                return {"boolean": False}
            if dnorm == snorm or dnorm.startswith(snorm + "/"):
                return {"boolean": False}
            os.rename(sloc, dloc)
            if snorm in self.writing:
                self.writing.discard(snorm)
                self.writing.add(dnorm)
            return {"boolean": True}

    def delete(self, path, recursive):
        with self.lock:
            loc, norm = self.local(path)
            if not os.path.exists(loc) or norm == "/":
                return {"boolean": False}
            if os.path.isdir(loc):
                if os.listdir(loc) and not recursive:
                    raise Remote("PathIsNotEmptyDirectoryException",
                                 "`%s is non empty': Directory is not empty" % norm)
                shutil.rmtree(loc)
            else:
                os.unlink(loc)
            return {"boolean": True}

    def truncate(self, path, newlength, recovery=0.0):
        with self.lock:
            loc, norm = self.need(path)
            if os.path.isdir(loc):
                raise Remote("FileNotFoundException", "Path is not a file: %s" % norm)
            if norm in self.writing:
                raise Remote("AlreadyBeingCreatedException",
                             "Failed to TRUNCATE_FILE %s: the file is being written" % norm)
            size = os.path.getsize(loc)
            if newlength < 0 or newlength > size:
                raise Remote("HadoopIllegalArgumentException",
                             "Cannot truncate to a larger file size. Current size: %d, "
                             "truncate size: %d." % (size, newlength))
            if recovery > 0:
                threading.Timer(recovery, os.truncate, (loc, newlength)).start()
                return {"boolean": False}
            os.truncate(loc, newlength)
            return {"boolean": True}

    def begin_write(self, path, create, overwrite):
        """Take the lease of path for a CREATE (create) or an APPEND upload."""
        with self.lock:
            loc, norm = self.local(path)
            if norm in self.writing:
                raise Remote("AlreadyBeingCreatedException",
                             "Failed to %s %s: the file is being written by another client"
                             % ("CREATE_FILE" if create else "APPEND_FILE", norm))
            if os.path.isdir(loc):
                raise Remote("FileAlreadyExistsException",
                             "%s already exists as a directory" % norm)
            if create:
                if os.path.exists(loc) and not overwrite:
                    raise Remote("FileAlreadyExistsException",
                                 "%s for client 127.0.0.1 already exists" % norm)
                parent = os.path.dirname(loc)
                self.mkdirs(parent[len(self.root):] or "/")
                open(loc, "wb").close()
            elif not os.path.exists(loc):
                raise Remote("FileNotFoundException", "File %s not found." % norm)
            self.writing.add(norm)
            return loc, norm

    def end_write(self, norm):
        with self.lock:
            self.writing.discard(norm)


class State:
    def __init__(self, args):
        self.host = args.host
        self.nn_port, self.dn_port = args.nn_port, args.dn_port
        self.fs = FS(args.root)
        self.nn503_until = time.time() + args.nn_503 if args.nn_503 else 0.0
        self.dn_delay = args.dn_delay
        self.dn_delay_op = args.dn_delay_op.upper()
        self.truncate_recovery = args.truncate_recovery
        self.httpfs = args.httpfs
        self.dn_refuse = False
        self.dn_server = None
        self.dn_conns = set()  # the datanode's open connections
        self.dn_lock = threading.Lock()
        self.stats = collections.Counter()

    def faults(self):
        left = max(0.0, self.nn503_until - time.time())
        return {"nn503_seconds_left": round(left, 1), "dn_refuse": self.dn_refuse,
                "dn_delay": self.dn_delay, "dn_delay_op": self.dn_delay_op,
                "truncate_recovery": self.truncate_recovery,
                "httpfs": self.httpfs}

    def dn_start(self):
        with self.dn_lock:
            if self.dn_server:
                return
            srv = ThreadingHTTPServer((self.host, self.dn_port), DataNode)
            srv.daemon_threads = True
            srv.state = self
            self.dn_server = srv
            threading.Thread(target=srv.serve_forever, daemon=True).start()

    def dn_stop(self):
        with self.dn_lock:
            srv, self.dn_server = self.dn_server, None
            conns = list(self.dn_conns)
        if srv:
            srv.shutdown()
            srv.server_close()
        for c in conns:  # a kept-alive client must not be served by a datanode that is down
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # TCP_NODELAY: an answer's headers and body are two writes; with Nagle's algorithm the body
    # waits for the client's delayed ACK of the headers (40 ms) on a kept-alive connection
    disable_nagle_algorithm = True

    def log_message(self, fmt, *a):
        if os.environ.get("WEBHDFS_VERBOSE"):
            sys.stderr.write("%s %s\n" % (type(self).__name__, fmt % a))

    @property
    def state(self):
        return self.server.state

    def parse(self):
        u = urllib.parse.urlsplit(self.path)
        q = {k.lower(): v[-1] for k, v in urllib.parse.parse_qs(u.query, keep_blank_values=True).items()}
        return u.path, q

    def send(self, code, body=b"", ctype="application/json", headers=()):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        if body or code not in (201, 307):
            self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)

    def remote(self, e):
        java, code = EXC[e.exc]
        self.send(code, {"RemoteException": {"exception": e.exc, "javaClassName": java,
                                             "message": e.message}})

    def drain_body(self):
        """Read (and drop) a request body, so that the connection stays usable."""
        for _ in self.body_chunks():
            pass

    def body_chunks(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while True:
                line = self.rfile.readline()
                n = int(line.split(b";")[0].strip() or b"0", 16)
                if n == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return
                yield self.rfile.read(n)
                self.rfile.readline()
        else:
            left = int(self.headers.get("Content-Length") or 0)
            while left > 0:
                b = self.rfile.read(min(left, 1 << 20))
                if not b:
                    return
                left -= len(b)
                yield b

    def upload(self, op, hpath, q):
        """CREATE or APPEND hpath with the request's body (a datanode, or an HttpFS gateway)."""
        st, fs = self.state, self.state.fs
        try:
            loc, norm = fs.begin_write(hpath, op == "CREATE", truthy(q.get("overwrite", "false")))
        except Remote:
            self.drain_body()
            raise
        try:
            with open(loc, "ab") as f:
                for chunk in self.body_chunks():
                    f.write(chunk)
        finally:
            fs.end_write(norm)
        if op == "CREATE":
            return self.send(201, b"", headers=[
                ("Location", "hdfs://%s:%d%s" % (st.host, st.nn_port, norm))])
        return self.send(200, b"")

    def webhdfs_path(self, path):
        if not path.startswith("/webhdfs/v1"):
            return None
        return urllib.parse.unquote(path[len("/webhdfs/v1"):]) or "/"

    def do_PUT(self):
        self.dispatch("PUT")

    def do_POST(self):
        self.dispatch("POST")

    def do_GET(self):
        self.dispatch("GET")

    def do_DELETE(self):
        self.dispatch("DELETE")


OPS = {"PUT": ("CREATE", "MKDIRS", "RENAME", "SETPERMISSION", "SETOWNER", "SETREPLICATION",
               "SETTIMES"),
       "POST": ("APPEND", "TRUNCATE", "CONCAT"),
       "GET": ("OPEN", "GETFILESTATUS", "LISTSTATUS", "GETHOMEDIRECTORY", "GETCONTENTSUMMARY"),
       "DELETE": ("DELETE",)}


def truthy(v):
    return str(v).lower() == "true"


class NameNode(Handler):
    def dispatch(self, method):
        path, q = self.parse()
        st = self.state
        if path.startswith("/control"):
            return self.control(method, path, q)
        hpath = self.webhdfs_path(path)
        if hpath is None:
            self.drain_body()
            return self.send(404, {"error": "not a WebHDFS path: %s" % path})
        op = q.get("op", "").upper()
        st.stats["nn " + op] += 1
        st.stats["user.name " + q.get("user.name", "")] += 1
        if time.time() < st.nn503_until:
            self.drain_body()
            return self.remote(Remote("RetriableException",
                                      "namenode is not available (injected fault)"))
        try:
            if op not in OPS.get(method, ()):
                self.drain_body()
                raise Remote("IllegalArgumentException",
                             "Invalid value for webhdfs parameter \"op\": No enum constant "
                             "org.apache.hadoop.hdfs.web.resources.%sOpParam.Op.%s"
                             % (method.capitalize(), op or "NULL"))
            if st.httpfs and op in ("CREATE", "APPEND"):
                return self.httpfs_upload(op, hpath, q)
            self.drain_body()  # the namenode never takes data (Hadoop: a 307 first)
            fs = st.fs
            if op in ("CREATE", "APPEND", "OPEN"):
                if op != "CREATE":
                    loc, norm = fs.need(hpath)
                    if os.path.isdir(loc):
                        raise Remote("FileNotFoundException", "Path is not a file: %s" % norm)
                params = dict(q)
                params.pop("noredirect", None)
                params["namenoderpcaddress"] = "%s:%d" % (st.host, st.nn_port)
                loc = "http://%s:%d/webhdfs/v1%s?%s" % (
                    st.host, st.dn_port, urllib.parse.quote(hpath),
                    urllib.parse.urlencode(params))
                if truthy(q.get("noredirect", "false")):
                    return self.send(200, {"Location": loc})
                return self.send(307, b"", headers=[("Location", loc)])
            if op == "MKDIRS":
                return self.send(200, fs.mkdirs(hpath))
            if op == "RENAME":
                dst = q.get("destination")
                if not dst or not dst.startswith("/"):
                    raise Remote("IllegalArgumentException",
                                 "Invalid value for webhdfs parameter \"destination\": %r" % dst)
                return self.send(200, fs.rename(hpath, dst))
            if op == "GETFILESTATUS":
                return self.send(200, fs.getfilestatus(hpath))
            if op == "LISTSTATUS":
                return self.send(200, fs.liststatus(hpath))
            if op == "DELETE":
                return self.send(200, fs.delete(hpath, truthy(q.get("recursive", "false"))))
            if op == "TRUNCATE":
                try:
                    n = int(q.get("newlength", ""))
                except ValueError:
                    raise Remote("IllegalArgumentException",
                                 "Invalid value for webhdfs parameter \"newlength\"")
                return self.send(200, fs.truncate(hpath, n, st.truncate_recovery))
            if op == "GETHOMEDIRECTORY":
                return self.send(200, {"Path": "/user/" + q.get("user.name", "dr.who")})
            raise Remote("UnsupportedOperationException", "%s is not implemented here" % op)
        except Remote as e:
            return self.remote(e)

    def httpfs_upload(self, op, hpath, q):
        """HttpFS: without data=true a 307 to this same URL with data=true; with it the body is
        the data, which must come as application/octet-stream (CheckUploadContentTypeFilter)."""
        st = self.state
        if not truthy(q.get("data", "false")):
            self.drain_body()
            params = dict(q)
            params["data"] = "true"
            loc = "http://%s:%d/webhdfs/v1%s?%s" % (st.host, st.nn_port,
                                                    urllib.parse.quote(hpath),
                                                    urllib.parse.urlencode(params))
            return self.send(307, b"", headers=[("Location", loc)])
        ctype = self.headers.get("Content-Type", "")
        if ctype.split(";")[0].strip().lower() != "application/octet-stream":
            self.drain_body()
            return self.send(400, {"error": "Data upload requests must have content-type set "
                                            "to 'application/octet-stream', not %r" % ctype})
        return self.upload(op, hpath, q)

    def control(self, method, path, q):
        st = self.state
        self.drain_body()
        if path == "/control/stats":
            return self.send(200, dict(st.stats))
        if method == "GET":
            return self.send(200, {"ok": True, "faults": st.faults()})
        fault = q.get("fault", "")
        if fault == "nn503":
            st.nn503_until = time.time() + float(q.get("seconds", "0"))
        elif fault == "dn_refuse":
            on = truthy(q.get("on", "true"))
            st.dn_refuse = on
            if on:
                st.dn_stop()
            else:
                st.dn_start()
        elif fault == "dn_delay":
            st.dn_delay = float(q.get("seconds", "0"))
            st.dn_delay_op = q.get("op", "").upper()
        elif fault == "httpfs":
            st.httpfs = truthy(q.get("on", "true"))
        elif fault == "truncate_recovery":
            st.truncate_recovery = float(q.get("seconds", "0"))
        elif fault == "clear":
            st.nn503_until = 0.0
            st.dn_delay = 0.0
            st.dn_delay_op = ""
            st.truncate_recovery = 0.0
            st.httpfs = False
            if st.dn_refuse:
                st.dn_refuse = False
                st.dn_start()
        else:
            return self.send(400, {"ok": False, "error": "unknown fault %r" % fault})
        return self.send(200, {"ok": True, "faults": st.faults()})


class DataNode(Handler):
    def setup(self):
        super().setup()
        with self.state.dn_lock:
            self.state.dn_conns.add(self.connection)

    def finish(self):
        with self.state.dn_lock:
            self.state.dn_conns.discard(self.connection)
        try:
            super().finish()
        except OSError:
            pass

    def handle(self):
        try:
            super().handle()
        except OSError:
            pass  # the connection was shut down by dn_refuse

    def dispatch(self, method):
        path, q = self.parse()
        st = self.state
        hpath = self.webhdfs_path(path)
        op = q.get("op", "").upper()
        if st.dn_delay and st.dn_delay_op in ("", op):
            st.stats["dn delayed " + op] += 1
            time.sleep(st.dn_delay)
        st.stats["dn " + op] += 1
        fs = st.fs
        try:
            if hpath is None or (method, op) not in (("PUT", "CREATE"), ("POST", "APPEND"),
                                                     ("GET", "OPEN")):
                self.drain_body()
                raise Remote("IllegalArgumentException",
                             "the datanode takes CREATE, APPEND and OPEN only, not %s %s"
                             % (method, op))
            if op == "OPEN":
                loc, norm = fs.need(hpath)
                with open(loc, "rb") as f:
                    f.seek(int(q.get("offset", "0") or 0))
                    n = q.get("length")
                    data = f.read(int(n)) if n else f.read()
                return self.send(200, data, "application/octet-stream")
            return self.upload(op, hpath, q)
        except Remote as e:
            return self.remote(e)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--nn-port", type=int, required=True)
    ap.add_argument("--dn-port", type=int, required=True)
    ap.add_argument("--nn-503", type=float, default=0.0, metavar="SECONDS")
    ap.add_argument("--dn-refuse", action="store_true")
    ap.add_argument("--dn-delay", type=float, default=0.0, metavar="SECONDS")
    ap.add_argument("--dn-delay-op", default="", metavar="OP")
    ap.add_argument("--truncate-recovery", type=float, default=0.0, metavar="SECONDS")
    ap.add_argument("--httpfs", action="store_true")
    args = ap.parse_args()
    st = State(args)
    ThreadingHTTPServer.allow_reuse_address = True
    nn = ThreadingHTTPServer((args.host, args.nn_port), NameNode)
    nn.daemon_threads = True
    nn.state = st
    if args.dn_refuse:
        st.dn_refuse = True
    else:
        st.dn_start()
    signal.signal(signal.SIGTERM, lambda *a: threading.Thread(target=nn.shutdown).start())
    print("READY nn=%d dn=%d" % (args.nn_port, args.dn_port), flush=True)
    try:
        nn.serve_forever()
    except KeyboardInterrupt:
        pass
    st.dn_stop()
    nn.server_close()


if __name__ == "__main__":
    main()
