package daemon

import "context"

// watchUICCLink forgets the UICC application's selection and logical
// channel (uicc.App.Reset) whenever the modem driver initialised a new link
// (modem.Health.Link grows): after a reconnect or a modem reboot the SIM
// may have been reset with the modem, and a GET DATA sent to the card's
// default application on the basic channel answers 6A88 like "nothing
// pending", so secure-packet triggers would go unseen until a restart.
// The next App call selects the application again. A poll that reaches the
// card on the new link before this goroutine runs may still see one false
// "nothing pending"; the poll after it selects again. Returns when ctx
// ends; runs only when an App exists (a server in SMS security mode 2).
func (d *Daemon) watchUICCLink(ctx context.Context) {
	var seen uint64 // the last link whose selection state the App may use
	for {
		changed := d.modem.HealthChanged()
		if h := d.modem.Health(); h.Up && h.Link > seen {
			if h.Link > 1 {
				d.app.Reset()
				d.log.Info("modem link re-initialised: UICC application will be selected again", "link", h.Link)
			}
			seen = h.Link
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return
		}
	}
}
