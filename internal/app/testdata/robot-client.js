// Posts one message of each kind through the published custom robot client
// dingtalk-robot-sender (installed by .ci/run), to the webhook URL in
// WEBHOOK_URL, signed with ROBOT_SECRET when it is set. Prints one JSON line
// per message: {"kind": ..., "status": <HTTP status>, "data": <answer>}.
'use strict';

const ChatBot = require('dingtalk-robot-sender');

const webhook = process.env.WEBHOOK_URL;
if (!webhook) {
  console.error('WEBHOOK_URL is not set');
  process.exit(2);
}
const options = { webhook: webhook };
if (process.env.ROBOT_SECRET) options.secret = process.env.ROBOT_SECRET;
const robot = new ChatBot(options);
const tag = process.env.MESSAGE_TAG || 'robot-client';

const messages = [
  ['text', () => robot.text(tag + ': disk 91% on db-3 @13800000000', { atMobiles: ['13800000000'], isAtAll: false })],
  ['markdown', () => robot.markdown(tag + ' deploy', '### ' + tag + '\n**v1.2.3** is live')],
  ['link', () => robot.link({ title: tag + ' build 42', text: 'passed in 3m', messageUrl: 'https://ci.example/42', picUrl: 'https://ci.example/ok.png' })],
  ['actionCard', () => robot.actionCard({ title: tag + ' release', text: 'approve v1.2.3?', btns: [{ title: 'Open', actionURL: 'https://ci.example/r/1' }] })],
  ['actionCard-row', () => robot.actionCard({ title: tag + ' rollback', text: 'roll back v1.2.3?', btnOrientation: 1,
    btns: [{ title: 'Yes', actionURL: 'https://ci.example/yes' }, { title: 'No', actionURL: 'https://ci.example/no' }] })],
];

(async () => {
  for (const [kind, send] of messages) {
    try {
      const res = await send();
      console.log(JSON.stringify({ kind: kind, status: res.status, data: res.data }));
    } catch (err) {
      console.log(JSON.stringify({ kind: kind, error: String(err && err.message || err) }));
    }
  }
})();
