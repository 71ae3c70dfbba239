// Command hello is the baseline of the HTTP benchmarks: a net/http server
// that answers every request with "hello". Whatever an endpoint of Steward
// costs beyond this is Steward's own work; run it in the same benchmark run,
// on the same cores, and compare with it rather than with absolute numbers.
//
//	go run ./bench/hello -addr 127.0.0.1:8079
package main

import (
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8079", "listen address")
	flag.Parse()
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("hello"))
	})
	srv := &http.Server{Addr: *addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintln(os.Stderr, "hello listening on", *addr)
	log.Fatal(srv.ListenAndServe())
}
