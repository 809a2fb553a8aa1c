package bot

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/dingrecall/dingrecall/dingtalk"
	"github.com/dingrecall/dingrecall/store"
)

// Interactive cards. A card is sent like any message (Bot.Send, the
// guards, the ledger): its dingtalk.Message has MsgKey MsgKeyCard and the
// CardContent as MsgParam, and the card-aware DingTalk the sender talks to
// delivers it with createAndDeliver instead of a robot send. The ledger key
// is the delivery's carrierId, which the robot recall APIs take, so recall
// N, tags, TTL and the audit log treat a card as any message. What the
// ledger does not keep (the card's outTrackId, and which preview a preview
// card stands for) is kept in States, under the keys below, for as long as
// the ledger keeps the message.

// MsgKeyCard is the MsgKey of a card's message in the ledger; its MsgParam
// is the card's CardContent as JSON. It is dingrecall's own, not one of
// DingTalk's robot message templates.
const MsgKeyCard = "dingrecall.card"

// The fixed action IDs of the buttons dingrecall puts on cards; a click's
// params.action, where the template sends one, is the same word.
const (
	// ActionRecall is a card's Recall button.
	ActionRecall = "recall"
	// ActionConfirm is the Confirm button of a preview card.
	ActionConfirm = "confirm"
	// ActionCancel is the Cancel button of a preview card.
	ActionCancel = "cancel"
)

// Recall modes (RECALL_MODE): what a recall does to a card.
const (
	// ModeRecall recalls cards like any message.
	ModeRecall = "recall"
	// ModeTombstone updates a card (not a reply) in place to a struck-through
	// line saying who recalled it, when and why, instead of removing it;
	// restore puts its content back. Other messages are always recalled.
	ModeTombstone = "tombstone"
)

// CodeTombstoned marks, in the audit log, a card a recall replaced by its
// tombstone rather than removed; restore puts such a card back in place.
const CodeTombstoned = "dingrecall.tombstoned"

// CardContent is what a card shows. It is the card's MsgParam in the
// ledger, so restore can show or send it again.
type CardContent struct {
	// Title is the card's title.
	Title string `json:"title"`
	// Text is its body, in markdown.
	Text string `json:"text"`
	// RecallButton puts a Recall button on the card (when the app takes
	// button clicks: Config.CardButtons).
	RecallButton bool `json:"recallButton,omitempty"`
	// Preview marks the preview card of a recall waiting for confirmation;
	// it has Confirm and Cancel buttons instead.
	Preview *CardPreview `json:"preview,omitempty"`
}

// CardPreview is what a preview card stands for: a recall waiting for its
// asker's confirmation.
type CardPreview struct {
	// ID is the pending recall's ID.
	ID string `json:"id"`
	// Asker is the staff ID of the person who asked; only their tap counts.
	Asker string `json:"asker"`
	// AskerNick is their name, for the card and the audit log.
	AskerNick string `json:"askerNick,omitempty"`
	// Pending is where the pending recall is kept in States.
	Pending string `json:"pending"`
}

// CardMessage is c as a message for Bot.Send (or an Outgoing of any kind):
// MsgKey MsgKeyCard, MsgParam the content as JSON.
func CardMessage(c CardContent) dingtalk.Message {
	raw, _ := json.Marshal(c) // strings and booleans: cannot fail
	return dingtalk.Message{MsgKey: MsgKeyCard, MsgParam: string(raw)}
}

// AsCard is m as a card with a Recall button: its title and text (or
// content) become the card's, so a drop-in route with card: true posts what
// the tool sent as a card. A card stays as it is.
func AsCard(m dingtalk.Message) dingtalk.Message {
	if IsCard(m.MsgKey) {
		return m
	}
	var p struct {
		Title   string `json:"title"`
		Text    string `json:"text"`
		Content string `json:"content"`
	}
	_ = json.Unmarshal([]byte(m.MsgParam), &p) // a message without these fields has an empty card body
	text := p.Text
	if text == "" {
		text = p.Content
	}
	return CardMessage(CardContent{Title: p.Title, Text: text, RecallButton: true})
}

// IsCard reports whether a message's MsgKey is a card's.
func IsCard(msgKey string) bool { return msgKey == MsgKeyCard }

// cardContentOf reads a card's content, failing wrapping
// dingtalk.ErrInvalidMessage when it has no title and no text.
func cardContentOf(param string) (CardContent, error) {
	var c CardContent
	if err := json.Unmarshal([]byte(param), &c); err != nil {
		return CardContent{}, fmt.Errorf("%w: card content is not JSON: %v", dingtalk.ErrInvalidMessage, err)
	}
	if strings.TrimSpace(c.Title) == "" && strings.TrimSpace(c.Text) == "" {
		return CardContent{}, fmt.Errorf("%w: a card needs a title or a text", dingtalk.ErrInvalidMessage)
	}
	return c, nil
}

// CardAPI is what the bot needs of DingTalk for cards; *dingtalk.Client has
// it.
type CardAPI interface {
	DeliverCard(ctx context.Context, space dingtalk.CardSpace, card dingtalk.Card) (dingtalk.CardDelivery, error)
	UpdateCard(ctx context.Context, outTrackID string, data map[string]string) error
}

var _ CardAPI = (*dingtalk.Client)(nil)

// ErrNoCards is returned, wrapped together with dingtalk.ErrInvalidMessage,
// for a card the bot cannot send because it has no CardAPI.
var ErrNoCards = errors.New("cards are not available")

// errNoCardRecord is a card whose outTrackId States no longer (or never)
// held: it can be recalled, not updated.
var errNoCardRecord = errors.New("no record of the card")

// cardRef is what States keeps of a delivered card, under cardKey(its
// outTrackId).
type cardRef struct {
	// Key is the card's message key (its carrierId).
	Key string `json:"key"`
	// Kind and Chat are where it is.
	Kind store.Kind `json:"kind"`
	Chat string     `json:"chat"`
	// Preview is set for a preview card.
	Preview *CardPreview `json:"preview,omitempty"`
}

// The States keys of the card records.
func cardKey(outTrackID string) string   { return "card:" + outTrackID }
func carrierKey(carrierID string) string { return "card-carrier:" + carrierID }
func previewKey(previewID string) string { return "card-preview:" + previewID }

// cardBook delivers and updates the bot's cards and keeps their records.
type cardBook struct {
	api    CardAPI
	states store.States
	layout cardLayout
	// buttons is Config.CardButtons: clicks reach the bot, so cards may
	// carry buttons.
	buttons bool
	// tombstones is RECALL_MODE=tombstone.
	tombstones bool
	// keep is how long a card's records live: as long as the ledger keeps
	// its message, and a little more.
	keep time.Duration
	// labels renders a short text (a button's name); renderer a text with
	// data. Both speak the bot's language.
	labels   func(name string) string
	renderer func(name string, data any) (string, error)
	now      func() time.Time
	log      logrus.FieldLogger
}

// deliver sends the card m (its MsgParam a CardContent) into chat and
// returns its carrierId, the message's key. Records of the card go to
// States; failing to write them is logged, as the card is out already.
func (c *cardBook) deliver(ctx context.Context, kind store.Kind, chat string, m dingtalk.Message) (string, error) {
	if c == nil {
		return "", fmt.Errorf("%w: %w", dingtalk.ErrInvalidMessage, ErrNoCards)
	}
	content, err := cardContentOf(m.MsgParam)
	if err != nil {
		return "", err
	}
	space := dingtalk.GroupSpace(chat)
	if kind == store.KindOTO {
		space = dingtalk.RobotSpace(chat)
	}
	card := dingtalk.Card{OutTrackID: newTrackID(), TemplateID: c.layout.template(), Data: c.layout.show(content, c.buttons, c.labels)}
	d, err := c.api.DeliverCard(ctx, space, card)
	if errors.Is(err, dingtalk.ErrInvalidCard) {
		return "", fmt.Errorf("%w: %w", dingtalk.ErrInvalidMessage, err)
	}
	if err != nil {
		return "", err
	}
	// The card is out: its records are written even if the caller has gone.
	ctx = context.WithoutCancel(ctx)
	log := c.log.WithFields(logrus.Fields{"chat": chat, "key": d.CarrierID, "out_track_id": card.OutTrackID})
	ref, _ := json.Marshal(cardRef{Key: d.CarrierID, Kind: kind, Chat: chat, Preview: content.Preview})
	records := map[string]string{cardKey(card.OutTrackID): string(ref), carrierKey(d.CarrierID): card.OutTrackID}
	if content.Preview != nil {
		records[previewKey(content.Preview.ID)] = card.OutTrackID
	}
	for k, v := range records {
		if err := c.states.SetState(ctx, k, v, c.keep); err != nil {
			log.WithError(err).Error("delivered a card but could not keep its record: its buttons and tombstone will not work")
		}
	}
	if key := c.layout.key(d.CarrierID); key != nil && c.buttons && content.RecallButton {
		// The Recall button's params.key is the message's key, known only now.
		if err := c.api.UpdateCard(ctx, card.OutTrackID, key); err != nil {
			log.WithError(err).Warn("could not put the message's key on the card; its button still works by outTrackId")
		}
	}
	return d.CarrierID, nil
}

// ref reads the record of the card outTrackID.
func (c *cardBook) ref(ctx context.Context, outTrackID string) (cardRef, bool, error) {
	raw, ok, err := c.get(ctx, cardKey(outTrackID))
	if err != nil || !ok {
		return cardRef{}, false, err
	}
	var r cardRef
	if json.Unmarshal([]byte(raw), &r) != nil || r.Key == "" {
		return cardRef{}, false, nil
	}
	return r, true, nil
}

// trackOf returns the outTrackId of the card delivered as the message key.
func (c *cardBook) trackOf(ctx context.Context, key string) (string, error) {
	track, ok, err := c.get(ctx, carrierKey(key))
	switch {
	case err != nil:
		return "", err
	case !ok || track == "":
		return "", errNoCardRecord
	}
	return track, nil
}

// cardProbe is the placeholder get stores for a moment under a key that
// held nothing; it is never a record.
const cardProbe = "\x00probe"

// get reads a live States value without taking it. States has no plain
// read, so it asks PutStateIfAbsent to store a placeholder: a key that
// holds a record answers with it, untouched; a key that held nothing now
// holds the placeholder, which is swapped for an empty value that expires
// at once (and reads as absent meanwhile).
func (c *cardBook) get(ctx context.Context, key string) (string, bool, error) {
	v, stored, err := c.states.PutStateIfAbsent(ctx, key, cardProbe, time.Second)
	if err != nil {
		return "", false, err
	}
	if stored {
		if _, err := c.states.CompareAndSwapState(ctx, key, cardProbe, "", time.Millisecond); err != nil {
			c.log.WithError(err).Debug("could not drop a card record probe; it expires within a second")
		}
		return "", false, nil
	}
	if v == "" || v == cardProbe {
		return "", false, nil
	}
	return v, true, nil
}

// update sets data on the card outTrackID.
func (c *cardBook) update(ctx context.Context, outTrackID string, data map[string]string) error {
	return c.api.UpdateCard(ctx, outTrackID, data)
}

// newTrackID is a fresh outTrackId: 32 random hex digits.
func newTrackID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// cardDingTalk is the DingTalk the sender talks to: it delivers messages
// with MsgKey MsgKeyCard as cards (groups and one-to-one chats) and hands
// everything else to the robot API.
type cardDingTalk struct {
	DingTalk
	cards *cardBook
}

// SendGroup delivers a card into the group, or sends a robot message.
func (d cardDingTalk) SendGroup(ctx context.Context, conversationID string, m dingtalk.Message, opts ...dingtalk.SendOption) (string, error) {
	if IsCard(m.MsgKey) {
		return d.cards.deliver(ctx, store.KindGroup, conversationID, m)
	}
	return d.DingTalk.SendGroup(ctx, conversationID, m, opts...)
}

// SendPrivate sends a robot message into a private chat; cards do not go
// there.
func (d cardDingTalk) SendPrivate(ctx context.Context, conversationID string, m dingtalk.Message, opts ...dingtalk.SendOption) (string, error) {
	if IsCard(m.MsgKey) {
		return "", fmt.Errorf("%w: cards go to groups and one-to-one chats, not private chats", dingtalk.ErrInvalidMessage)
	}
	return d.DingTalk.SendPrivate(ctx, conversationID, m, opts...)
}

// SendOTO delivers a card into one person's chat with the robot, or sends a
// robot message.
func (d cardDingTalk) SendOTO(ctx context.Context, userIDs []string, m dingtalk.Message) (*dingtalk.OTOResult, error) {
	if !IsCard(m.MsgKey) {
		return d.DingTalk.SendOTO(ctx, userIDs, m)
	}
	if len(userIDs) != 1 {
		return nil, fmt.Errorf("%w: a card goes to one person at a time, not %d", dingtalk.ErrInvalidMessage, len(userIDs))
	}
	key, err := d.cards.deliver(ctx, store.KindOTO, userIDs[0], m)
	if err != nil {
		return nil, err
	}
	return &dingtalk.OTOResult{ProcessQueryKey: key}, nil
}
