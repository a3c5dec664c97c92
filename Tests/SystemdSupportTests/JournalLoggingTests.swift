import Foundation
import Logging
import Testing
@testable import SystemdSupport
#if canImport(Glibc)
import Glibc
#endif

@Suite struct JournalLoggingTests {
    @Test func metadataKeys_becomeUpperCaseIMRFields() {
        #expect(JournalFields.fieldName(forMetadataKey: "case.id") == "IMR_CASE")
        #expect(JournalFields.fieldName(forMetadataKey: "deadline.id") == "IMR_DEADLINE")
        #expect(JournalFields.fieldName(forMetadataKey: "rule.id") == "IMR_RULE")
        #expect(JournalFields.fieldName(forMetadataKey: "message.id") == "MESSAGE_ID")
        #expect(JournalFields.fieldName(forMetadataKey: "event.position") == "IMR_EVENT_POSITION")
        #expect(JournalFields.fieldName(forMetadataKey: "peer-uid") == "IMR_PEER_UID")
        #expect(JournalFields.fieldName(forMetadataKey: "Actor") == "IMR_ACTOR")
        #expect(JournalFields.fieldName(forMetadataKey: String(repeating: "x", count: 100)).count == 64)
        // One underscore for each character that is not an ASCII letter or digit, however many bytes it takes.
        #expect(JournalFields.fieldName(forMetadataKey: "fällig-ünd 7") == "IMR_F_LLIG__ND_7")
    }

    @Test func keysMappingToOneField_theLastInKeyOrderWins_andTheErrorWinsOverMetadata() {
        struct Failure: Error, CustomStringConvertible { var description: String { "disk full" } }
        let fields = JournalFields.fields(
            level: .error,
            message: "m",
            metadata: ["case.id": "B", "case-id": "A", "error": "from metadata", "zeta": .stringConvertible(3)],
            syslogIdentifier: "imr-daemon",
            error: Failure(),
            file: "f",
            function: "g",
            line: 1
        )
        // "case-id" and "case.id" both end in a field; "case.id" sorts after "case-id" and maps to IMR_CASE,
        // "case-id" to IMR_CASE_ID; "error" maps to IMR_ERROR, which the error passed to the call replaces.
        #expect(
            fields.map(\.description) == [
                "MESSAGE=m", "PRIORITY=3", "SYSLOG_IDENTIFIER=imr-daemon", "IMR_CASE=B", "IMR_CASE_ID=A",
                "IMR_ERROR=disk full", "IMR_ZETA=3", "CODE_FILE=f", "CODE_LINE=1", "CODE_FUNC=g",
            ]
        )
        let clash = JournalFields.fields(
            level: .info,
            message: "m",
            metadata: ["a.b": "first", "a_b": "second"],
            syslogIdentifier: "x",
            file: "f",
            function: "g",
            line: 1
        )
        // "a.b" < "a_b" in key order: both are IMR_A_B, and the later one is kept, once.
        #expect(clash.filter { $0.name == "IMR_A_B" } == [JournalField("IMR_A_B", "second")])
    }

    @Test func fields_carryMessagePriorityIdentifierMetadataAndCodeLocation() {
        let fields = JournalFields.fields(
            level: .warning,
            message: "deadline due tomorrow",
            metadata: [
                "case.id": "ADJ1234567",
                "deadline.id": "d-9",
                "message.id": .string(JournalMessageID.daemonReady),
                "event.position": .stringConvertible(42),
            ],
            syslogIdentifier: "imr-daemon",
            file: "Workflow/Deadlines.swift",
            function: "check()",
            line: 17
        )
        #expect(
            fields == [
                JournalField("MESSAGE", "deadline due tomorrow"),
                JournalField("PRIORITY", "4"),
                JournalField("SYSLOG_IDENTIFIER", "imr-daemon"),
                JournalField("IMR_CASE", "ADJ1234567"),
                JournalField("IMR_DEADLINE", "d-9"),
                JournalField("IMR_EVENT_POSITION", "42"),
                JournalField("MESSAGE_ID", JournalMessageID.daemonReady),
                JournalField("CODE_FILE", "Workflow/Deadlines.swift"),
                JournalField("CODE_LINE", "17"),
                JournalField("CODE_FUNC", "check()"),
            ]
        )
    }

    @Test func priorities_followSyslog() {
        #expect(Logger.Level.allCases.map(JournalFields.priority(for:)) == [7, 7, 6, 5, 4, 3, 2])
    }

    @Test func messageIDs_are128BitHexAndDistinct() {
        let ids = [
            JournalMessageID.daemonReady, JournalMessageID.configurationReloaded,
            JournalMessageID.configurationInvalid, JournalMessageID.daemonStopping, JournalMessageID.alreadyRunning,
        ]
        #expect(Set(ids).count == ids.count)
        for id in ids {
            #expect(id.count == 32 && id.allSatisfy { $0.isHexDigit && !$0.isUppercase }, "\(id)")
        }
    }

    @Test func journalIsUsed_onlyWhenStderrIsTheJournalStream() {
        let stderrIdentity: (device: UInt64, inode: UInt64) = (device: 8, inode: 4711)
        #expect(
            JournalFields.shouldUseJournal(
                journalStream: "8:4711",
                standardErrorIdentity: stderrIdentity,
                journalSocketExists: true
            )
        )
        #expect(
            !JournalFields.shouldUseJournal(
                journalStream: nil,
                standardErrorIdentity: stderrIdentity,
                journalSocketExists: true
            )
        )
        #expect(
            !JournalFields.shouldUseJournal(
                journalStream: "8:4711",
                standardErrorIdentity: stderrIdentity,
                journalSocketExists: false
            )
        )
        // Inherited JOURNAL_STREAM but stderr redirected elsewhere.
        #expect(
            !JournalFields.shouldUseJournal(
                journalStream: "8:4712",
                standardErrorIdentity: stderrIdentity,
                journalSocketExists: true
            )
        )
        #expect(
            !JournalFields.shouldUseJournal(
                journalStream: "garbage",
                standardErrorIdentity: stderrIdentity,
                journalSocketExists: true
            )
        )
        #expect(
            !JournalFields.shouldUseJournal(
                journalStream: "8:4711",
                standardErrorIdentity: nil,
                journalSocketExists: true
            )
        )
    }

    @Test func stderrFormat_isKeyValuePairs_quotedWhenNeeded() {
        let line = KeyValueStderrLogHandler.format([
            JournalField("MESSAGE", "lock held by pid 12"),
            JournalField("PRIORITY", "3"),
            JournalField("IMR_CASE", "ADJ1"),
            JournalField("IMR_NOTE", "say \"hi\"\nthen a=b \\ done"),
            JournalField("IMR_EMPTY", ""),
        ])
        #expect(
            line
                == #"MESSAGE="lock held by pid 12" PRIORITY=3 IMR_CASE=ADJ1 IMR_NOTE="say \"hi\"\nthen a=b \\ done" IMR_EMPTY="""#
                + "\n"
        )
    }

    @Test func stderrFormat_escapesEveryControlCharacter_andKeepsOtherTextAsIs() {
        // C0 and DEL, and the C1 controls (two UTF-8 bytes each), are escaped; accents, CJK and
        // emoji pass through, and a value with none of the special characters is not quoted.
        let line = KeyValueStderrLogHandler.format([
            JournalField("A", "esc\u{1B}[0m del\u{7F} nel\u{85} csi\u{9B}"),
            JournalField("B", "Müller-日本-🙂"),
            JournalField("C", "\u{A0}nbsp"),
        ])
        #expect(line == #"A="esc\u{1b}[0m del\u{7f} nel\u{85} csi\u{9b}" B=Müller-日本-🙂 C=\#u{A0}nbsp"# + "\n")
        #expect(KeyValueStderrLogHandler.quoted("\u{80}") == #""\u{80}""#)
        #expect(KeyValueStderrLogHandler.quoted("plain") == "plain")
    }

    @Test func stderrHandler_writesOneLinePerEntry_withHandlerAndCallMetadata() throws {
        var pipeEnds: [Int32] = [0, 0]
        try #require(pipe(&pipeEnds) == 0)
        defer { close(pipeEnds[0]) }
        var logger = Logger(label: "test") { _ in
            KeyValueStderrLogHandler(syslogIdentifier: "imr-test", fileDescriptor: pipeEnds[1])
        }
        logger.logLevel = .debug
        logger[metadataKey: "rule.id"] = "R-15"
        logger.info("case opened", metadata: ["case.id": "ADJ9", "message.id": "00112233445566778899aabbccddeeff"])
        logger.trace("not logged below debug")
        close(pipeEnds[1])
        let text = String(
            decoding: FileHandle(fileDescriptor: pipeEnds[0], closeOnDealloc: false).readDataToEndOfFile(),
            as: UTF8.self
        )
        let lines = text.split(separator: "\n")
        try #require(lines.count == 1, "got \(text)")
        #expect(
            lines[0].hasPrefix(
                #"MESSAGE="case opened" PRIORITY=6 SYSLOG_IDENTIFIER=imr-test IMR_CASE=ADJ9 IMR_RULE=R-15 MESSAGE_ID=00112233445566778899aabbccddeeff CODE_FILE=SystemdSupportTests/JournalLoggingTests.swift CODE_LINE="#
            )
        )
    }

    @Test func journalHandler_sendsWithoutCrashing_evenWithoutJournald() {
        // With no journald here sd_journal_sendv drops the entry; this pins that building the
        // iovecs (including a value with a newline) is memory-safe.
        var handler = JournalLogHandler(syslogIdentifier: "imr-test")
        handler.logLevel = .debug
        let logger = Logger(label: "test") { _ in handler }
        logger.error("multi\nline", metadata: ["case.id": "ADJ1"])
        #expect(handler.syslogIdentifier == "imr-test")
    }
}
