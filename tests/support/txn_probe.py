#!/usr/bin/python3
"""Transactional producer steps for checking the mock Kafka cluster's transaction markers with an
independent client (python3-confluent-kafka, Debian):
  txn_probe.py BOOTSTRAP TOPIC first    commit c1-0..2, abort a1-0..2, commit c2-0..1, then leave
                                        open-0..1 in an open transaction and die by SIGKILL
  txn_probe.py BOOTSTRAP TOPIC fence    same transactional.id: init_transactions (which must abort
                                        the open transaction), commit c3
  txn_probe.py BOOTSTRAP TOPIC open     a plain message, an open transaction of another
                                        transactional.id (tx2-open), a plain message after it;
                                        then SIGKILL (the transaction stays open)
"""
import os
import signal
import sys
import time

from confluent_kafka import Producer

bs, topic, step = sys.argv[1:4]


def txn_producer(tid):
    p = Producer({"bootstrap.servers": bs, "transactional.id": tid})
    p.init_transactions(30)
    return p


def txn(p, values, commit):
    p.begin_transaction()
    for v in values:
        p.produce(topic, v.encode())
    if commit:
        p.commit_transaction(30)
    else:
        p.flush(30)


if step == "first":
    p = txn_producer("probe-1")
    txn(p, ["c1-0", "c1-1", "c1-2"], True)
    txn(p, ["a1-0", "a1-1", "a1-2"], False)
    p.abort_transaction(30)
    txn(p, ["c2-0", "c2-1"], True)
    txn(p, ["open-0", "open-1"], False)
    os.kill(os.getpid(), signal.SIGKILL)
elif step == "fence":
    p = txn_producer("probe-1")
    txn(p, ["c3"], True)
elif step == "open":
    plain = Producer({"bootstrap.servers": bs})
    plain.produce(topic, b"plain")
    plain.flush(30)
    p = txn_producer("probe-2")
    txn(p, ["tx2-open"], False)
    plain.produce(topic, b"plain-after")
    plain.flush(30)
    time.sleep(0.5)
    os.kill(os.getpid(), signal.SIGKILL)
