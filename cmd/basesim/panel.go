package main

import (
	"net/http"
	"path/filepath"

	"basestation/sim/panel"
)

// withPanel serves the web panel (sim/panel) at /panel/ beside the control
// API api, and sends a browser that asks for / there.
func (w *world) withPanel(api http.Handler) (http.Handler, error) {
	p, err := panel.New(panel.Options{Line: w.board.Phone, RecordDir: filepath.Join(w.opt.StateDir, "recordings")})
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/panel/", http.StripPrefix("/panel", p))
	mux.Handle("GET /{$}", http.RedirectHandler("/panel/", http.StatusFound))
	mux.Handle("/", api)
	return mux, nil
}
