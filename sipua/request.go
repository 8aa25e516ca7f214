package sipua

import (
	"context"
	"errors"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// doAuth sends the request built by build, answering up to three digest
// challenges (stale nonces and a first challenge to cached credentials
// are retried; a repeated non-stale challenge to fresh credentials is
// returned as the final response). Each attempt is a fresh request.
func (u *UA) doAuth(ctx context.Context, cli *sipgo.Client, auth *authenticator, build func() (*sip.Request, error)) (*sip.Response, error) {
	fresh := false
	for attempt := 0; ; attempt++ {
		req, err := build()
		if err != nil {
			return nil, err
		}
		if err := auth.authorize(req); err != nil {
			return nil, err
		}
		res, err := u.roundTrip(ctx, cli, req)
		if err != nil {
			return nil, err
		}
		if res.StatusCode != 401 && res.StatusCode != 407 {
			return res, nil
		}
		stale, err := auth.challenged(res)
		if err != nil {
			return res, nil
		}
		if (fresh && !stale) || attempt >= 3 {
			auth.forget()
			return res, nil
		}
		fresh = true
	}
}

// roundTrip sends one request and waits for its final response.
func (u *UA) roundTrip(ctx context.Context, cli *sipgo.Client, req *sip.Request) (*sip.Response, error) {
	ctx, cancel := context.WithTimeout(ctx, u.conf().Timing.RequestTimeout)
	defer cancel()
	tx, err := cli.TransactionRequest(ctx, req, noBuild)
	if err != nil {
		return nil, err
	}
	defer tx.Terminate()
	for {
		select {
		case res := <-tx.Responses():
			if res.IsProvisional() {
				continue
			}
			return res, nil
		case <-tx.Done():
			if err := tx.Err(); err != nil {
				if errors.Is(err, sip.ErrTransactionTimeout) {
					return nil, ErrTimeout
				}
				return nil, err
			}
			return nil, ErrTimeout
		case <-ctx.Done():
			if c := context.Cause(ctx); errors.Is(c, ErrUnreachable) {
				return nil, c
			}
			return nil, ErrTimeout
		}
	}
}

// noBuild is a client option that leaves our fully built request as is.
func noBuild(*sipgo.Client, *sip.Request) error { return nil }
