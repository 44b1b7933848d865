package localaws

import (
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// SQS is a client of goaws's SQS, which speaks only SQS's query protocol
// (form-encoded Action=..., XML answers); today's AWS SDK speaks SQS's JSON
// protocol, so the harness has this small client of its own.
type SQS struct {
	Endpoint string // http://127.0.0.1:<port>
	Client   *http.Client
}

// Message is one received SQS message.
type Message struct {
	MessageID     string
	ReceiptHandle string
	Body          string
	Attributes    map[string]string
}

type sqsError struct {
	XMLName xml.Name `xml:"ErrorResponse"`
	Error   struct {
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	} `xml:"Error"`
}

func (q *SQS) call(ctx context.Context, queueURL, action string, params url.Values, out any) error {
	if params == nil {
		params = url.Values{}
	}
	params.Set("Action", action)
	params.Set("Version", "2012-11-05")
	if queueURL != "" {
		params.Set("QueueUrl", queueURL)
	}
	target := q.Endpoint + "/"
	if queueURL != "" {
		target = queueURL
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(params.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	c := q.Client
	if c == nil {
		c = &http.Client{Timeout: time.Minute}
	}
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("sqs %s: %w", action, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("sqs %s: %w", action, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e sqsError
		_ = xml.Unmarshal(body, &e)
		return fmt.Errorf("sqs %s: %s: %s %s", action, resp.Status, e.Error.Code, e.Error.Message)
	}
	if out != nil {
		if err := xml.Unmarshal(body, out); err != nil {
			return fmt.Errorf("sqs %s: %w", action, err)
		}
	}
	return nil
}

// QueueURL returns the URL of the queue named name.
func (q *SQS) QueueURL(ctx context.Context, name string) (string, error) {
	var out struct {
		URL string `xml:"GetQueueUrlResult>QueueUrl"`
	}
	if err := q.call(ctx, "", "GetQueueUrl", url.Values{"QueueName": {name}}, &out); err != nil {
		return "", err
	}
	// goaws names its host from the config; the harness talks to Endpoint.
	if i := strings.Index(out.URL, "://"); i >= 0 {
		if j := strings.Index(out.URL[i+3:], "/"); j >= 0 {
			return q.Endpoint + out.URL[i+3+j:], nil
		}
	}
	return out.URL, nil
}

// Send puts one message on the queue.
func (q *SQS) Send(ctx context.Context, queueURL, body string) error {
	return q.call(ctx, queueURL, "SendMessage", url.Values{"MessageBody": {body}}, nil)
}

// Receive takes up to max messages, waiting up to wait for the first.
func (q *SQS) Receive(ctx context.Context, queueURL string, max int, wait time.Duration) ([]Message, error) {
	var out struct {
		Messages []struct {
			MessageID     string `xml:"MessageId"`
			ReceiptHandle string `xml:"ReceiptHandle"`
			Body          string `xml:"Body"`
			Attributes    []struct {
				Name  string `xml:"Name"`
				Value string `xml:"Value"`
			} `xml:"Attribute"`
		} `xml:"ReceiveMessageResult>Message"`
	}
	params := url.Values{
		"MaxNumberOfMessages": {strconv.Itoa(max)},
		"WaitTimeSeconds":     {strconv.Itoa(int(wait / time.Second))},
		"AttributeName.1":     {"All"},
	}
	if err := q.call(ctx, queueURL, "ReceiveMessage", params, &out); err != nil {
		return nil, err
	}
	msgs := make([]Message, len(out.Messages))
	for i, m := range out.Messages {
		msgs[i] = Message{MessageID: m.MessageID, ReceiptHandle: m.ReceiptHandle, Body: m.Body, Attributes: map[string]string{}}
		for _, a := range m.Attributes {
			msgs[i].Attributes[a.Name] = a.Value
		}
	}
	return msgs, nil
}

// Delete removes a received message.
func (q *SQS) Delete(ctx context.Context, queueURL, receiptHandle string) error {
	return q.call(ctx, queueURL, "DeleteMessage", url.Values{"ReceiptHandle": {receiptHandle}}, nil)
}

// Depth is the queue's ApproximateNumberOfMessages (visible ones).
func (q *SQS) Depth(ctx context.Context, queueURL string) (int, error) {
	var out struct {
		Attributes []struct {
			Name  string `xml:"Name"`
			Value string `xml:"Value"`
		} `xml:"GetQueueAttributesResult>Attribute"`
	}
	if err := q.call(ctx, queueURL, "GetQueueAttributes", url.Values{"AttributeName.1": {"All"}}, &out); err != nil {
		return 0, err
	}
	for _, a := range out.Attributes {
		if a.Name == "ApproximateNumberOfMessages" {
			return strconv.Atoi(a.Value)
		}
	}
	return 0, fmt.Errorf("sqs GetQueueAttributes: no ApproximateNumberOfMessages")
}
