package sipua

import (
	"testing"
	"time"
)

func ext(name, user, pass, registrar string) Extension {
	return Extension{Name: name, Account: Account{User: user, Password: pass, Domain: "127.0.0.1", Registrars: []string{registrar}}}
}

// Registration with digest auth at a real kamailio; a wrong password
// fails with the 401 as last error; un-REGISTER at shutdown.
func TestKamailioRegister(t *testing.T) {
	k := startKamailio(t, map[string]string{"1001": "pw1001", "1002": "pw1002"})
	good := ext("101", "1001", "pw1001", k.addr())
	bad := ext("102", "1002", "wrong", k.addr())
	u := startUA(t, Config{Extensions: []Extension{good, bad}, Timing: Timing{RetryMin: 200 * time.Millisecond, RetryMax: time.Second}})
	ev := pollReg(t, u.UA, "101", RegRegistered, 10*time.Second)
	if ev.Registrar != k.addr() || ev.Expires <= 0 {
		t.Errorf("registered event %+v", ev)
	}
	k.waitLog(t, "MARK-REGISTERED sip:1001@127.0.0.1", 5*time.Second)
	f := pollReg(t, u.UA, "102", RegFailed, 10*time.Second)
	if f.LastError != "401 Unauthorized" {
		t.Errorf("wrong-password error %q, want 401 Unauthorized", f.LastError)
	}
	u.stop(t)
	k.waitLog(t, "expires=0", 5*time.Second)
}
