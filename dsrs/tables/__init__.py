"""RocksDB-backed Faust tables: the live, changelogged state each worker serves from."""
