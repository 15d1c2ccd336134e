import imaplib, sys
sys.path.insert(0,'/tmp/storage-dv')
from dv_lib import *
port=int(open('/tmp/storage-dv/port').read())
M=imaplib.IMAP4('127.0.0.1',port)
M.login(sys.argv[1],'secret')
dump(M, sys.argv[2])
M.logout()
