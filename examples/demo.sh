#!/bin/sh
# A round of the sneakernet loop on the embedded default, with a real wiki's history:
# the London Ontario wiki as it was on 2022-09-04, then as it was on 2023-01-02.
set -e
cd "$(dirname "$0")/.."
rm -rf demo && mkdir -p demo/usb
first=examples/ldnont/ldnont-full-20220904T202951-9621301.xml.xz
last=examples/ldnont/ldnont-full-20230102T000002-8cd8781.xml.xz

echo "== Two sides: hq (online) and school (offline), each with an embedded wiki store"
bundle init -C demo/hq --wiki demo/hq/wiki.sqlite
bundle init -C demo/school --wiki demo/school/wiki.sqlite
bundle key -C demo/hq > demo/usb/hq.pub          # carried once to the school
bundle key -C demo/school > demo/usb/school.pub  # and the school's key the other way
bundle trust -C demo/school demo/usb/hq.pub
bundle trust -C demo/hq demo/usb/school.pub

echo; echo "== hq's wiki on 2022-09-04 goes to the school in bundle 1"
bundle import -C demo/hq "$first"
bundle make -C demo/hq --out demo/usb/update-1.bundle
bundle apply -C demo/school demo/usb/update-1.bundle --manifest-out demo/usb/school-1.wbm

echo; echo "== Four months of edits later: bundle 2 carries only what the school lacks"
bundle import -C demo/hq "$last" --delete-missing
bundle make -C demo/hq --since demo/usb/school-1.wbm --out demo/usb/update-2.bundle
bundle inspect demo/usb/update-2.bundle -C demo/school
bundle apply -C demo/school demo/usb/update-2.bundle --manifest-out demo/usb/school-2.wbm
bundle apply -C demo/school demo/usb/update-2.bundle   # again: nothing changes

echo; echo "== The return trip: edits made on both sides travel back and merge three ways"
# hq adds a link to "Other Sites" and rewrites the first line of "Sandbox"...
bundle show -C demo/hq "Other Sites" | sed 's|^\* Others$|* Others\n** [https://www.londonpubliclibrary.ca/ London Public Library]|' > demo/hq-other.txt
bundle edit -C demo/hq "Other Sites" --file demo/hq-other.txt --summary "library link" --user Online.Editor
bundle show -C demo/hq Sandbox | sed '1s/.*/Online: try edits here./' > demo/hq-sandbox.txt
bundle edit -C demo/hq Sandbox --file demo/hq-sandbox.txt --summary "shorter" --user Online.Editor
# ...while at the school a teacher edits another part of "Other Sites" and the same line of "Sandbox".
bundle show -C demo/school "Other Sites" | sed '1s/.*/Some other sites with information about London, Ontario/' > demo/school-other.txt
bundle edit -C demo/school "Other Sites" --file demo/school-other.txt --summary "which London" --user Teacher
bundle show -C demo/school Sandbox | sed '1s/.*/Offline: students practise editing here./' > demo/school-sandbox.txt
bundle edit -C demo/school Sandbox --file demo/school-sandbox.txt --summary "for students" --user Teacher
echo "-- hq makes update 3; the school applies it and writes its return bundle on the same stick"
bundle make -C demo/hq --since demo/usb/school-2.wbm --out demo/usb/update-3.bundle
bundle apply -C demo/school demo/usb/update-3.bundle --return-out demo/usb/return-1.bundle
echo "-- hq applies the return: one clean merge, one conflict (online text kept, offline text in the history)"
bundle apply -C demo/hq demo/usb/return-1.bundle
bundle show -C demo/hq "Other Sites" | head -3
echo "-- the next update brings the merge and the conflict notice to the school"
bundle make -C demo/hq --out demo/usb/update-4.bundle
bundle apply -C demo/school demo/usb/update-4.bundle
bundle show -C demo/school "Talk:Sandbox"
if [ "$(bundle show -C demo/hq Sandbox)" = "$(bundle show -C demo/school Sandbox)" ] && \
   [ "$(bundle show -C demo/hq 'Other Sites')" = "$(bundle show -C demo/school 'Other Sites')" ]; then
  echo "both wikis show the same text"
else
  echo "the wikis differ"; exit 1
fi

echo; echo "== The school's wiki, exported for MediaWiki's importDump.php"
bundle export -C demo/school --out demo/school.xml
bundle status -C demo/school

echo; echo "== Summary"
b1=$(wc -c < demo/usb/update-1.bundle); b2=$(wc -c < demo/usb/update-2.bundle)
whole=$(xz -9e -c "$last" | wc -c)
echo "bundle 1 (the wiki on 2022-09-04): $b1 bytes; bundle 2 (four months of edits): $b2 bytes"
echo "what people carry today, the whole dump again with xz -9e: $whole bytes"
echo "the school's wiki is in demo/school.xml (for MediaWiki's importDump.php)"
