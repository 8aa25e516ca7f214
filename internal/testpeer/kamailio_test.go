package testpeer

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"
)

// rawRegister sends one REGISTER from a UDP socket of its own and returns
// the status line of the answer.
func rawRegister(t *testing.T, k *Kamailio, user, contact string, expires int) string {
	t.Helper()
	c, err := net.Dial("udp", k.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	la := c.LocalAddr().String()
	msg := fmt.Sprintf("REGISTER sip:%s SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bK%d;rport\r\n"+
		"From: <sip:%s@%s>;tag=1\r\nTo: <sip:%s@%s>\r\nCall-ID: reg-%s\r\nCSeq: %d REGISTER\r\n"+
		"Contact: <%s>\r\nExpires: %d\r\nContent-Length: 0\r\n\r\n",
		k.Host, la, time.Now().UnixNano(), user, k.Host, user, k.Host, user, time.Now().UnixMilli()%1e9, contact, expires)
	if _, err := c.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("REGISTER to %s: %v", k.Addr(), err)
	}
	line, _, _ := strings.Cut(string(buf[:n]), "\r\n")
	return line
}

// kamailio on a second loopback address: its location table is readable
// (a binding appears and goes with Expires: 0); killed by PID its port
// answers ICMP port unreachable; restarted at the same address and port
// it answers again with an empty table.
func TestKamailioSecondLoopbackKillRestart(t *testing.T) {
	k := StartKamailio(t, KamailioOptions{Host: "127.0.0.2", NoAuth: true})
	if !strings.HasPrefix(k.Addr(), "127.0.0.2:") {
		t.Fatalf("address %s", k.Addr())
	}
	if cs, err := k.Contacts("1001"); err != nil || len(cs) != 0 {
		t.Fatalf("empty table: %v %v", cs, err)
	}
	if st := rawRegister(t, k, "1001", "sip:1001@127.0.0.1:5099", 60); st != "SIP/2.0 200 OK" {
		t.Fatalf("REGISTER: %s", st)
	}
	cs, err := k.Contacts("1001")
	if err != nil || len(cs) != 1 || cs[0].Address != "sip:1001@127.0.0.1:5099" || cs[0].Expires <= 0 || cs[0].Expires > 60*time.Second {
		t.Fatalf("after REGISTER: %+v %v", cs, err)
	}
	if st := rawRegister(t, k, "1001", "sip:1001@127.0.0.1:5099", 0); st != "SIP/2.0 200 OK" {
		t.Fatalf("un-REGISTER: %s", st)
	}
	if cs, err := k.Contacts("1001"); err != nil || len(cs) != 0 {
		t.Fatalf("after un-REGISTER: %+v %v", cs, err)
	}

	k.Kill()
	c, err := net.Dial("udp", k.Addr())
	if err != nil {
		t.Fatal(err)
	}
	_, _ = c.Write([]byte("\r\n\r\n"))
	_ = c.SetReadDeadline(time.Now().Add(time.Second))
	_, err = c.Read(make([]byte, 16))
	c.Close()
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("killed kamailio's port: %v, want connection refused (ICMP port unreachable)", err)
	}

	k2 := k.Restart(t)
	if k2.Addr() != k.Addr() {
		t.Fatalf("restarted at %s, want %s", k2.Addr(), k.Addr())
	}
	if st := rawRegister(t, k2, "1002", "sip:1002@127.0.0.1:5098", 60); st != "SIP/2.0 200 OK" {
		t.Fatalf("REGISTER after restart: %s", st)
	}
	if cs, _ := k2.Contacts("1001"); len(cs) != 0 {
		t.Fatalf("restarted kamailio kept %+v", cs)
	}
}
