#!/usr/bin/env python3
"""Load generator for the payments example.

Inserts payouts as 'pending' at a steady rate and, a few seconds later,
settles each one as 'paid' or 'failed', in small transactions. Needs
psycopg 3: pip install "psycopg[binary]" (or apt-get install python3-psycopg).
"""

import argparse
import heapq
import random
import sys
import time
from decimal import Decimal

import psycopg

# Per method: the share of payouts that fail, and the settle delay in seconds.
PROFILES = {
    "card": (0.03, 1.0, 3.0),
    "sepa": (0.02, 3.0, 8.0),
    "ach": (0.06, 4.0, 10.0),
    "pix": (0.01, 0.5, 2.0),
    "upi": (0.04, 1.0, 4.0),
}
DEFAULT_PROFILE = (0.05, 1.0, 5.0)

# Per merchant country: the payout currency and the methods used there.
COUNTRIES = {
    "US": ("USD", ["card", "ach"]),
    "CA": ("CAD", ["card"]),
    "GB": ("GBP", ["card"]),
    "DE": ("EUR", ["card", "sepa"]),
    "FR": ("EUR", ["card", "sepa"]),
    "NL": ("EUR", ["card", "sepa"]),
    "ES": ("EUR", ["card", "sepa"]),
    "SE": ("SEK", ["card", "sepa"]),
    "BR": ("BRL", ["card", "pix"]),
    "IN": ("INR", ["card", "upi"]),
}
FAILURE_REASONS = ["insufficient_funds", "account_closed", "invalid_account",
                   "limit_exceeded", "bank_timeout"]

INSERT = """INSERT INTO payouts (merchant_id, method_id, amount, currency, status, requested_at)
            VALUES (%s, %s, %s, %s, 'pending', now()) RETURNING id"""
PAY = "UPDATE payouts SET status = 'paid', paid_at = now() WHERE id = %s AND status = 'pending'"
FAIL = """UPDATE payouts SET status = 'failed', failure_reason = %s
          WHERE id = %s AND status = 'pending'"""


def parse_args():
    p = argparse.ArgumentParser(description="Insert and settle payouts in the payments database.")
    p.add_argument("--dsn", default="postgres://postgres:postgres@127.0.0.1:5432/payments",
                   help="PostgreSQL connection string of the source database")
    p.add_argument("--rate", type=float, default=50, help="payouts per second (default 50)")
    p.add_argument("--duration", type=float, default=60,
                   help="seconds to insert for, 0 = forever (default 60)")
    p.add_argument("--seed", type=int, help="random seed, for a repeatable mix of payouts")
    return p.parse_args()


class Generator:
    def __init__(self, conn, rng):
        self.conn, self.rng = conn, rng
        self.methods = dict(conn.execute("SELECT name, id FROM methods").fetchall())
        self.merchants = conn.execute("SELECT id, country FROM merchants ORDER BY id").fetchall()
        if not self.merchants:
            sys.exit("load.py: the merchants table is empty; run schema.sql first")
        self.due = []  # heap of (when to settle, payout id, method name)
        self.counts = {"inserted": 0, "paid": 0, "failed": 0}
        self.start = time.monotonic()
        # Payouts a previous, interrupted run left pending settle first.
        rows = conn.execute("""SELECT p.id, m.name FROM payouts p JOIN methods m ON m.id = p.method_id
                               WHERE p.status = 'pending'""").fetchall()
        for payout_id, method in rows:
            heapq.heappush(self.due, (self.start + rng.uniform(0, 3), payout_id, method))

    def insert(self, n):
        with self.conn.transaction():
            for _ in range(n):
                merchant_id, country = self.rng.choice(self.merchants)
                currency, methods = COUNTRIES.get(country, ("USD", ["card"]))
                method = self.rng.choice([m for m in methods if m in self.methods] or list(self.methods))
                amount = Decimal(f"{min(self.rng.lognormvariate(4.5, 1.0), 50000):.2f}")
                (payout_id,) = self.conn.execute(
                    INSERT, (merchant_id, self.methods[method], amount, currency)).fetchone()
                _, low, high = PROFILES.get(method, DEFAULT_PROFILE)
                settle_at = time.monotonic() + self.rng.uniform(low, high)
                heapq.heappush(self.due, (settle_at, payout_id, method))
        self.counts["inserted"] += n

    def settle(self, limit=200):
        """Marks the payouts whose delay is over as paid or failed."""
        paid, failed = [], []
        now = time.monotonic()
        while self.due and self.due[0][0] <= now and len(paid) + len(failed) < limit:
            _, payout_id, method = heapq.heappop(self.due)
            if self.rng.random() < PROFILES.get(method, DEFAULT_PROFILE)[0]:
                failed.append((self.rng.choice(FAILURE_REASONS), payout_id))
            else:
                paid.append((payout_id,))
        if not paid and not failed:
            return
        with self.conn.transaction(), self.conn.cursor() as cur:
            if paid:
                cur.executemany(PAY, paid)
            if failed:
                cur.executemany(FAIL, failed)
        self.counts["paid"] += len(paid)
        self.counts["failed"] += len(failed)

    def progress(self):
        c = self.counts
        print(f"{time.monotonic() - self.start:6.0f}s  inserted {c['inserted']:7d}  "
              f"paid {c['paid']:7d}  failed {c['failed']:6d}  pending {len(self.due):5d}",
              flush=True)

    def run(self, rate, duration):
        next_report = self.start + 5
        while True:
            elapsed = time.monotonic() - self.start
            if duration:
                elapsed = min(elapsed, duration)
            # Catch up to rate * elapsed, a small transaction at a time.
            behind = int(elapsed * rate) - self.counts["inserted"]
            if behind > 0:
                self.insert(min(behind, 200))
            elif elapsed == duration and not self.due:
                break  # the time is up and every payout is settled
            self.settle()
            if time.monotonic() >= next_report:
                self.progress()
                next_report += 5
            time.sleep(0.05)
        self.progress()


def main():
    args = parse_args()
    gen = None
    try:
        with psycopg.connect(args.dsn, autocommit=True) as conn:
            gen = Generator(conn, random.Random(args.seed))
            gen.run(args.rate, args.duration)
    except KeyboardInterrupt:
        # The open transaction, if any, was rolled back; what was committed stays.
        if gen:
            gen.progress()
        print("interrupted; payouts still pending are settled by the next run")
    except psycopg.Error as e:
        sys.exit(f"load.py: {e}")


if __name__ == "__main__":
    main()
