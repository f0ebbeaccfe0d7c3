"""Writes a JSONL file as Parquet with pyarrow (an independent writer):
python3 e2e/to_parquet.py IN.jsonl OUT.parquet [COMPRESSION] [ROWS_PER_GROUP]"""
import json
import sys

import pyarrow as pa
import pyarrow.parquet as pq

src, out = sys.argv[1], sys.argv[2]
compression = sys.argv[3] if len(sys.argv) > 3 else "snappy"
group = int(sys.argv[4]) if len(sys.argv) > 4 else 500
with open(src, encoding="utf-8") as f:
    rows = [json.loads(line) for line in f if line.strip()]
pq.write_table(pa.Table.from_pylist(rows), out, compression=compression, row_group_size=group)
