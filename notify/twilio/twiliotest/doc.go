// Package twiliotest is a local stand-in for Twilio's Messages API and for
// Twilio's side of webhooks, for tests, demos and `apptbridge twilio-sim`.
//
// A Server answers, with Twilio's paths, JSON shapes and error bodies:
//
//	POST /2010-04-01/Accounts/{AccountSid}/Messages.json        create (201)
//	GET  /2010-04-01/Accounts/{AccountSid}/Messages.json        list: To, From,
//	     DateSent, DateSent<, DateSent>, PageSize, Page, PageToken; newest first
//	GET  /2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json  fetch
//
// HTTP Basic auth (AccountSid:AuthToken) is required (401, code 20003).
// Point twilio.Config.BaseURL (TWILIO_API_BASE_URL) at Server.URL.
//
// Tests script the answers to create calls with Script and ScriptFor
// (status, Twilio code, Retry-After, a delay, and whether the message was
// created anyway: Twilio took it but the caller never saw the 201), and
// inspect what was created with Messages, Creates, Calls and WaitMessages.
// Callback posts a signed status callback; Inbound posts a signed inbound
// SMS to a webhook, InboundWithSID resends one.
//
//	s, err := twiliotest.Start("AC123", "token")
//	defer s.Close()
//	s.Script(twiliotest.Response{HTTPStatus: 500, Create: true})
//	c, _ := twilio.New(twilio.Config{AccountSID: "AC123", AuthToken: "token",
//		From: "+15005550006", BaseURL: s.URL})
//	_, err = c.Send(ctx, to, body) // ClassAmbiguous; c.Find finds it
//
// The core type depends on no testing package, so the same server runs as
// a process. Its optional Logger never prints phone numbers or bodies
// unless Verbose is set.
package twiliotest
