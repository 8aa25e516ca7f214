package provisioning

import (
	"context"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// WaitToken waits for an MQTT token to complete or ctx to end, and returns
// the token's error or ctx's (context.DeadlineExceeded: not acknowledged in
// time). It is the one way the project waits on paho's tokens: the agent
// and the cloud client (provisioning/cloud) both use it.
func WaitToken(ctx context.Context, tok mqtt.Token) error {
	select {
	case <-tok.Done():
		return tok.Error()
	case <-ctx.Done():
		return ctx.Err()
	}
}

// WaitTokenFor is WaitToken bounded by d as well.
func WaitTokenFor(ctx context.Context, tok mqtt.Token, d time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	return WaitToken(ctx, tok)
}
