import imaplib, sys
sys.path.insert(0,'/tmp/storage-dv')
from dv_lib import *
port=int(open('/tmp/storage-dv/port').read())
M=imaplib.IMAP4('127.0.0.1',port)
M.login('alice','secret')
for box in ['Archive','Archive/2024',mutf7_encode('Entwürfe'),'Urlaub/Spanien','A&B']:
    print(M.create('"'+box+'"' if '&' in box else box))
M.subscribe(mutf7_encode('Entwürfe'))
msg="From: a@example.com\r\nTo: alice@example.com\r\nSubject: test %d\r\nMessage-ID: <%d@x>\r\n\r\nHello body %d\r\nline2\r\n"
for i in range(1,7):
    M.append('INBOX', None, None, (msg % (i,i,i)).encode())
M.append('Archive/2024', '(\\Seen $Forwarded)', None, (msg % (7,7,7)).encode())
M.append('Archive/2024', '(\\Answered Work)', None, (msg % (8,8,8)).encode())
M.append('"A&-B"', '(\\Flagged)', None, (msg % (9,9,9)).encode())
M.select('INBOX')
M.uid('STORE','1','+FLAGS','(\\Seen \\Answered)')
M.uid('STORE','2','+FLAGS','(\\Flagged $Label1 Junk)')
M.uid('STORE','3','+FLAGS','(\\Deleted \\Draft NonJunk)')
M.uid('STORE','4','+FLAGS','(\\Seen $Label1)')
M.uid('STORE','5','+FLAGS','(\\Deleted)')
M.expunge()   # removes 3 and 5
M.uid('COPY','1:2','Archive')
M.uid('COPY','4',mutf7_encode('Entwürfe'))
M.select('Archive')
M.uid('STORE','2','-FLAGS','($Label1)')
dump(M, '/tmp/storage-dv/expected.txt')
M.logout()
