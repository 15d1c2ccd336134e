// objmail integration test driver: imapflow (a second real client library)
// against objmaild. Usage: node check.mjs PORT USER PASS
// Prints JSON lines on stdout: {"event":"idle"} when it waits in IDLE (the
// test then delivers a message by LMTP), and last one {"result":{...}}.
import { ImapFlow } from 'imapflow';

const [port, user, pass] = process.argv.slice(2);
const out = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');
const withTimeout = (p, ms, what) => {
	let timer;
	const t = new Promise((_, rej) => {
		timer = setTimeout(() => rej(new Error('timeout: ' + what)), ms);
	});
	return Promise.race([p, t]).finally(() => clearTimeout(timer));
};

const client = new ImapFlow({
	host: '127.0.0.1', port: Number(port), secure: false, auth: { user, pass },
	logger: false, qresync: true, disableAutoIdle: true, emitLogs: false,
});

const res = {};
try {
	await client.connect();
	res.capabilities = [...client.capabilities.keys()];
	res.enabled = [...client.enabled];

	const list = await client.list();
	res.list = list.map((m) => ({ path: m.path, specialUse: m.specialUse || null,
		subscribed: !!m.subscribed }));

	let lock = await client.getMailboxLock('INBOX');
	try {
		res.inbox = { exists: client.mailbox.exists,
			highestModseq: String(client.mailbox.highestModseq || ''),
			uidValidity: String(client.mailbox.uidValidity) };

		const msgs = [];
		for await (const m of client.fetch('1:*', { uid: true, envelope: true,
			bodyStructure: true, source: true, flags: true })) {
			msgs.push({ seq: m.seq, uid: m.uid, subject: m.envelope.subject,
				from: m.envelope.from.map((a) => a.address),
				messageId: m.envelope.messageId,
				type: m.bodyStructure.type,
				parts: (m.bodyStructure.childNodes || []).map((c) => c.type),
				sourceLength: m.source.length,
				sourceHead: m.source.toString('utf8', 0, 200),
				modseq: String(m.modseq || '') });
		}
		res.fetch = msgs;

		res.searchSubject = await client.search({ subject: 'needle' }, { uid: true });
		res.searchUnseen = await client.search({ seen: false }, { uid: true });

		// CONDSTORE: a flag change is seen with CHANGEDSINCE
		const before = client.mailbox.highestModseq;
		await client.messageFlagsAdd({ uid: msgs[0].uid }, ['\\Flagged'], { uid: true });
		const changed = [];
		for await (const m of client.fetch('1:*', { uid: true, flags: true },
			{ changedSince: before })) {
			changed.push({ uid: m.uid, flags: [...m.flags] });
		}
		res.changedSince = changed;

		// IDLE woken by a delivery
		const woke = new Promise((resolve) => {
			client.on('exists', (d) => resolve({ count: d.count, prevCount: d.prevCount }));
		});
		const idling = client.idle();
		out({ event: 'idle' });
		res.idle = await withTimeout(woke, 20000, 'IDLE wakeup');
		await withTimeout(idling.catch(() => null).then(() => null), 1, 'idle end').catch(() => null);

		// MOVE
		const mv = await client.messageMove({ uid: msgs[0].uid }, 'Archive', { uid: true });
		res.move = { destination: mv.destination,
			uidMap: mv.uidMap ? [...mv.uidMap.entries()] : null };
		res.statusInbox = await client.status('INBOX', { messages: true, uidNext: true });
		res.statusArchive = await client.status('Archive', { messages: true });
	} finally {
		lock.release();
	}
	await client.logout();
	res.ok = true;
} catch (e) {
	res.ok = false;
	res.error = String(e && e.stack || e);
	try { client.close(); } catch (_) { /* ignore */ }
}
out({ result: res });
