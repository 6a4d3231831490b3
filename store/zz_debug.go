package store

var debugCountFn func(*buckets)
