"""summary.py - reads a monitor.py CSV and prints the soak figures: files, seconds, files/s,
RSS and open fds after warm-up (the samples until 10% of the files were applied) against the
end of the run and the maximum, and PASS or FAIL: RSS growth after warm-up under 10% or under
SLACK_MIB, and fds back at or below their warm-up level. Exit 0 on PASS.

usage: summary.py CSV FILES [SLACK_MIB]"""
import csv
import sys

rows = list(csv.DictReader(open(sys.argv[1])))
files = int(sys.argv[2])
slack_kib = float(sys.argv[3] if len(sys.argv) > 3 else 4) * 1024
if not rows:
    sys.exit("no samples")
for r in rows:
    for k in r:
        r[k] = float(r[k])
secs = rows[-1]["t_s"]
warm_end = next((i for i, r in enumerate(rows) if r["applied"] >= files * 0.1), len(rows) - 1)
warm = rows[: warm_end + 1]
tail = rows[-3:]  # the queue is empty here: the idle state the run settles into
rss_warm = max(r["rss_kib"] for r in warm)
rss_end = tail[-1]["rss_kib"]
rss_max = max(r["rss_kib"] for r in rows)
fd_warm = max(r["fds"] for r in warm)
fd_end = tail[-1]["fds"]
fd_max = max(r["fds"] for r in rows)
growth = rss_end - rss_warm
rss_ok = growth < 0.10 * rss_warm or growth < slack_kib
fd_ok = fd_end <= fd_warm
applied, failed = int(rows[-1]["applied"]), int(rows[-1]["failed"])
print("files            %d (applied %d, failed %d)" % (files, applied, failed))
print("seconds          %.1f" % secs)
print("files/s          %.1f" % (files / secs if secs else 0))
print("samples          %d (warm-up = first %d, until %.1f s)" % (len(rows), len(warm), warm[-1]["t_s"]))
print("RSS MiB          warm-up %.1f  end %.1f  max %.1f  growth %+.1f (%+.1f%%)" %
      (rss_warm / 1024, rss_end / 1024, rss_max / 1024, growth / 1024, 100 * growth / rss_warm))
print("open fds         warm-up %d  end %d  max %d" % (fd_warm, fd_end, fd_max))
print("threads          max %d" % max(r["threads"] for r in rows))
deciles = [rows[min(len(rows) - 1, len(rows) * k // 10)] for k in range(11)]
print("RSS MiB by decile " + " ".join("%.1f" % (r["rss_kib"] / 1024) for r in deciles))
print("fds by decile     " + " ".join("%d" % r["fds"] for r in deciles))
ok = rss_ok and fd_ok and applied == files and failed == 0
print("%s (RSS growth %s, fds %s)" % ("PASS" if ok else "FAIL", "ok" if rss_ok else "TOO HIGH",
                                     "back to warm-up" if fd_ok else "ABOVE warm-up"))
sys.exit(0 if ok else 1)
