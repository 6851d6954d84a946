//! The UI in Thai and English: every visible string is a [`Text`], translated by [`tr`].

/// UI language (a user preference, remembered in the browser).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Th,
    En,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::Th => "th",
            Lang::En => "en",
        }
    }

    pub fn from_code(code: &str) -> Option<Lang> {
        match code {
            "th" => Some(Lang::Th),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The language to start in when nothing is remembered: Thai unless the browser prefers another.
    pub fn from_browser(languages: &[String]) -> Lang {
        match languages.first() {
            Some(l) if !l.to_ascii_lowercase().starts_with("th") => Lang::En,
            _ => Lang::Th,
        }
    }
}

macro_rules! texts {
    ($($key:ident => $th:literal, $en:literal;)*) => {
        /// A UI string.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Text { $($key,)* }

        impl Text {
            pub const ALL: &'static [Text] = &[$(Text::$key,)*];
        }

        /// `text` in `lang`.
        pub fn tr(lang: Lang, text: Text) -> &'static str {
            match (lang, text) {
                $((Lang::Th, Text::$key) => $th, (Lang::En, Text::$key) => $en,)*
            }
        }
    };
}

texts! {
    AppName => "รังสี", "Rangsi";
    Username => "ชื่อผู้ใช้", "Username";
    Password => "รหัสผ่าน", "Password";
    LogIn => "เข้าสู่ระบบ", "Log in";
    LogOut => "ออกจากระบบ", "Log out";
    LoginFailed => "ชื่อผู้ใช้หรือรหัสผ่านไม่ถูกต้อง", "Wrong username or password";
    Studies => "รายการตรวจ", "Studies";
    PatientName => "ชื่อผู้ป่วย", "Patient name";
    PatientId => "HN / รหัสผู้ป่วย", "HN / Patient ID";
    DateFrom => "ตั้งแต่วันที่", "From";
    DateTo => "ถึงวันที่", "To";
    Modality => "ชนิดการตรวจ", "Modality";
    AnyModality => "ทั้งหมด", "Any";
    Search => "ค้นหา", "Search";
    Searching => "กำลังค้นหา…", "Searching…";
    NoStudies => "ไม่พบการตรวจ", "No studies found";
    StudyDate => "วันที่ตรวจ", "Study date";
    Description => "รายละเอียด", "Description";
    Accession => "เลขที่ตรวจ", "Accession";
    Images => "ภาพ", "images";
    Series => "ซีรีส์", "Series";
    Previous => "ก่อนหน้า", "Previous";
    Next => "ถัดไป", "Next";
    BackToStudies => "กลับไปรายการตรวจ", "Back to studies";
    Loading => "กำลังโหลด…", "Loading…";
    About => "เกี่ยวกับ", "About";
    Close => "ปิด", "Close";
    Graphics => "กราฟิก", "Graphics";
    Adapter => "อุปกรณ์", "Adapter";
    Language => "ภาษา", "Language";
    DateEra => "ปีศักราช", "Dates";
    BuddhistEra => "พ.ศ.", "Buddhist Era";
    CommonEra => "ค.ศ.", "Common Era";
    Shortcuts => "คีย์ลัด", "Shortcuts";
    ShortcutScroll => "ล้อเมาส์ / ลูกศร: เลื่อนภาพ", "Wheel / arrow keys: scroll";
    ShortcutWindow => "ลากเมาส์: ปรับ W/L", "Drag: window / level";
    ShortcutPresets => "1–8: ค่า W/L สำเร็จรูป, 9: ค่าจากไฟล์", "1–8: W/L presets, 9: the file's window";
    NotShown => "ซีรีส์นี้แสดงไม่ได้", "This series cannot be shown";
    Error => "เกิดข้อผิดพลาด", "Something went wrong";
    // study list
    Hospital => "โรงพยาบาล", "Hospital";
    AnyHospital => "ทุกโรงพยาบาล", "All hospitals";
    DateTime => "วันเวลาที่ตรวจ", "Date / time";
    QuickToday => "วันนี้", "Today";
    QuickYesterday => "เมื่อวาน", "Yesterday";
    QuickWeek => "7 วัน", "7 days";
    QuickMonth => "30 วัน", "30 days";
    ClearSearch => "ล้างการค้นหา", "Clear";
    PerPage => "ต่อหน้า", "Per page";
    RangeOf => "จาก", "of";
    BadgeReported => "อ่านผลแล้ว", "Reported";
    BadgeReferred => "ส่งต่อ", "Referred";
    BadgeConsult => "ขอคำปรึกษา", "Consult requested";
    ListKeys => "ลูกศรขึ้น/ลง: เลือก, Enter: เปิด, /: ค้นหา", "Up/Down: select, Enter: open, /: search";
    StudyNotFound => "ไม่พบการตรวจ หรือคุณไม่มีสิทธิ์เปิดการตรวจนี้", "Study not found, or you may not open it";
    PatientStudies => "การตรวจของผู้ป่วย", "Studies of patient";
    NoPatientStudies => "ไม่พบการตรวจของผู้ป่วยรายนี้ที่คุณเปิดได้", "No studies of this patient that you may open";
    AllStudies => "การตรวจทั้งหมด", "All studies";
    // end study list
    // measurements
    ToolProbe => "ค่าพิกเซล", "Probe";
    ToolLength => "วัดความยาว", "Length";
    ToolAngle => "วัดมุม", "Angle";
    ToolCobb => "มุม Cobb", "Cobb angle";
    ToolEllipse => "วงรี ROI", "Ellipse ROI";
    ToolRectangle => "สี่เหลี่ยม ROI", "Rectangle ROI";
    DeleteMeasurement => "ลบการวัด", "Delete measurement";
    Mean => "เฉลี่ย", "Mean";
    StdDev => "SD", "SD";
    Min => "ต่ำสุด", "Min";
    Max => "สูงสุด", "Max";
    Area => "พื้นที่", "Area";
    PixelCount => "พิกเซล", "pixels";
    StoredValue => "ค่าที่เก็บ", "Stored";
    ModalityValue => "ค่าโมดาลิตี", "Value";
    PatientPosition => "ตำแหน่ง", "Position";
    CalibrationPixelSpacing => "PixelSpacing", "PixelSpacing";
    CalibrationDetector => "ImagerPixelSpacing (ที่ตัวรับภาพ)", "ImagerPixelSpacing (at detector)";
    CalibrationMagnification => "แก้กำลังขยายแล้ว", "magnification corrected";
    CalibrationNone => "พิกเซล (ไม่ได้สอบเทียบ)", "pixels (uncalibrated)";
    MeasurementsNotSaved => "บันทึกการวัดไม่สำเร็จ", "Measurements not saved";
    ShortcutMeasure => "Delete: ลบการวัดที่เลือก, Esc: ยกเลิก", "Delete: delete the selected measurement, Esc: cancel";
    // end measurements
    // reading tools
    KeyScroll => "เลื่อนภาพทีละภาพ", "Next / previous image";
    KeyPage => "เลื่อนทีละ 10 ภาพ (หรือ 10%)", "Move 10 images (or 10%)";
    KeyHomeEnd => "ภาพแรก / ภาพสุดท้าย", "First / last image";
    KeyPresets => "ค่า W/L สำเร็จรูปของ CT", "CT window presets";
    KeyFileWindows => "ค่า W/L จากไฟล์ (กดซ้ำเพื่อเปลี่ยน)", "The file's windows (press again for the next)";
    KeyCine => "เล่น / หยุดภาพเคลื่อนไหว", "Cine play / pause";
    KeyFps => "ลด / เพิ่มความเร็ว (ภาพต่อวินาที)", "Cine slower / faster (frames per second)";
    KeyZoom => "ขยาย / ย่อ", "Zoom in / out";
    KeyFit => "พอดีกรอบ", "Fit to viewport";
    KeyOneToOne => "ขนาดจริง 1:1 (หนึ่งพิกเซลภาพต่อหนึ่งพิกเซลจอ)", "1:1 (one image pixel per screen pixel)";
    KeyRotate => "หมุนขวา / หมุนซ้าย 90 องศา", "Rotate 90 degrees right / left";
    KeyFlip => "กลับซ้ายขวา / กลับบนล่าง", "Flip horizontal / vertical";
    KeyInvert => "กลับสีขาวดำ", "Invert";
    KeyReset => "คืนค่าเริ่มต้นของภาพ", "Reset the view";
    KeyTools => "เครื่องมือลากเมาส์: W/L, เลื่อนภาพ, ขยาย, เลื่อนชั้นภาพ", "Drag tool: window/level, pan, zoom, scroll";
    KeyLayouts => "รูปแบบช่องภาพ 1x1, 1x2, 2x1, 2x2, 3x3", "Layouts 1x1, 1x2, 2x1, 2x2, 3x3";
    KeySync => "เลื่อนภาพพร้อมกันตามตำแหน่ง (เปิด/ปิด)", "Synchronised scrolling by position (on/off)";
    KeyReferenceLines => "เส้นอ้างอิงระหว่างช่องภาพ (เปิด/ปิด)", "Reference lines (on/off)";
    KeyHelp => "แสดง / ซ่อนคีย์ลัด", "Show / hide the shortcuts";
    KeyTouch => "จอสัมผัส: ลากนิ้วเดียวเลื่อนภาพ, ถ่างสองนิ้วขยาย, ลากสองนิ้วปรับ W/L", "Touch: one finger scrolls, pinch zooms, two-finger drag sets W/L";
    Layout => "รูปแบบช่องภาพ", "Layout";
    ToolWindowLevel => "ปรับ W/L", "Window / level";
    ToolPan => "เลื่อนภาพ", "Pan";
    ToolZoom => "ขยาย", "Zoom";
    ToolScroll => "เลื่อนชั้นภาพ", "Scroll";
    WindowPresets => "ค่า W/L", "Windows";
    FileWindows => "ค่าจากไฟล์", "From the file";
    Cine => "ภาพเคลื่อนไหว", "Cine";
    Fit => "พอดีกรอบ", "Fit";
    OneToOne => "ขนาดจริง", "1:1";
    RotateLeft => "หมุนซ้าย", "Rotate left";
    RotateRight => "หมุนขวา", "Rotate right";
    FlipHorizontal => "กลับซ้ายขวา", "Flip horizontal";
    FlipVertical => "กลับบนล่าง", "Flip vertical";
    Invert => "กลับสี", "Invert";
    Reset => "คืนค่า", "Reset";
    SyncScroll => "เลื่อนพร้อมกัน", "Sync scroll";
    ReferenceLines => "เส้นอ้างอิง", "Reference lines";
    DropHere => "แตะช่องภาพเพื่อวางซีรีส์", "Tap a viewport to put the series there";
    SeriesPanel => "ซีรีส์ทั้งหมด", "All series";
    Downsampled => "ภาพใหญ่เกินงบหน่วยความจำของการ์ดจอ แสดงแบบย่อ", "Larger than the graphics memory budget: shown reduced";
    // reports (web/report.rs)
    Report => "รายงานผล", "Report";
    ReportDraft => "ฉบับร่าง", "Draft";
    ReportPreliminary => "รายงานเบื้องต้น", "Preliminary";
    ReportFinal => "ลงนามแล้ว", "Final";
    ReportAmended => "แก้ไขเพิ่มเติมแล้ว", "Amended";
    NewReport => "เริ่มเขียนรายงาน", "Start a report";
    NotReported => "ยังไม่มีรายงานผล", "Not reported yet";
    Findings => "สิ่งที่ตรวจพบ", "Findings";
    Impression => "สรุปผล", "Impression";
    Recommendation => "คำแนะนำ", "Recommendation";
    CriticalResult => "ผลวิกฤต (แพทย์ผู้ส่งตรวจต้องรับทราบ)", "Critical result (the requester must acknowledge)";
    SignedBy => "ลงนามโดย", "Signed by";
    Addendum => "ข้อความเพิ่มเติม", "Addendum";
    AddAddendum => "ลงนามข้อความเพิ่มเติม", "Sign the addendum";
    Acknowledged => "รับทราบผลวิกฤตแล้วโดย", "Critical result acknowledged by";
    Acknowledge => "รับทราบผลวิกฤต", "Acknowledge the critical result";
    SaveDraft => "บันทึกร่าง", "Save draft";
    SavePreliminary => "บันทึกเป็นรายงานเบื้องต้น", "Save as preliminary";
    PasswordToSign => "รหัสผ่านเพื่อลงนาม", "Password to sign";
    Sign => "ลงนาม", "Sign";
    // consultation requests and the worklist (web/consults.rs)
    PriorityStat => "ด่วนที่สุด (STAT)", "STAT";
    PriorityUrgent => "ด่วน", "Urgent";
    PriorityRoutine => "ปกติ", "Routine";
    ConsultRequested => "รออ่านผล", "Requested";
    ConsultClaimed => "กำลังอ่านผล", "Claimed";
    ConsultReported => "รายงานแล้ว", "Reported";
    ConsultWithdrawn => "ยกเลิกแล้ว", "Withdrawn";
    Worklist => "รายการรออ่านผล", "Worklist";
    Overdue => "เกินกำหนด", "Overdue";
    Claim => "รับอ่าน", "Claim";
    Release => "คืนงาน", "Release";
    Open => "เปิด", "Open";
    NothingToRead => "ไม่มีงานรออ่าน", "Nothing to read";
    NothingMatches => "ไม่มีงานที่ตรงกับตัวกรอง", "Nothing matches the filters";
    WorklistSearch => "ค้นหา (ชื่อ, HN, การตรวจ, โรงพยาบาล)", "Search (name, HN, study, hospital)";
    AnyPriority => "ทุกความเร่งด่วน", "Any priority";
    SourceAll => "คำขอและการตรวจในโรงพยาบาล", "Requests and local studies";
    SourceRequests => "คำขออ่านผล", "Reading requests";
    SourceLocal => "การตรวจในโรงพยาบาลที่ยังไม่มีรายงาน", "Local studies without a report";
    OverdueOnly => "เฉพาะที่เกินกำหนด", "Overdue only";
    MineOnly => "เฉพาะที่ฉันรับอ่าน", "Claimed by me";
    Consults => "ขอปรึกษาอ่านผล", "Reading requests";
    Withdraw => "ยกเลิกคำขอ", "Withdraw";
    RequestReading => "ขอให้รังสีแพทย์อ่านผล", "Request a reading";
    ReadingHospital => "โรงพยาบาลที่อ่านผล", "Reading hospital";
    Radiologist => "รังสีแพทย์ (ชื่อผู้ใช้ ไม่บังคับ)", "Radiologist (user name, optional)";
    Priority => "ความเร่งด่วน", "Priority";
    ClinicalHistory => "ประวัติทางคลินิก", "Clinical history";
    Question => "คำถามทางคลินิก", "Question";
    WeightKg => "น้ำหนัก (กก.)", "Weight (kg)";
    Labs => "ผลแล็บที่เกี่ยวข้อง", "Relevant labs";
    Allergies => "ประวัติแพ้", "Allergies";
    PriorTreatment => "การรักษาก่อนหน้า", "Prior treatment";
    SendRequest => "ส่งคำขอ", "Send request";
    AttachFile => "แนบใบส่งตรวจหรือผลจากที่อื่น (PDF หรือ JPEG: เก็บเข้าในการตรวจ)", "Attach a request form or outside report (PDF or JPEG: stored into the study)";
    ReportPdf => "PDF รายงาน", "PDF";
    Notifications => "การแจ้งเตือน", "Notifications";
    NoNotifications => "ไม่มีการแจ้งเตือน", "No notifications";
    // end reading tools
    // referral and sharing (web/sharing.rs)
    Share => "แชร์", "Share";
    ShareTitle => "แชร์ภาพด้วยลิงก์และ QR", "Share the images by link and QR code";
    ShareCreate => "สร้างลิงก์", "Create link";
    ShareCopy => "คัดลอกลิงก์", "Copy link";
    ShareCopied => "คัดลอกแล้ว", "Copied";
    SharePrint => "พิมพ์ให้ผู้ป่วย (PDF)", "Print for the patient (PDF)";
    SharePinOptional => "PIN (ไม่บังคับ, 4–12 หลัก)", "PIN (optional, 4–12 digits)";
    ShareAskBirthDate => "ถามวันเกิดผู้ป่วย", "Ask the patient's birth date";
    ShareForPatient => "สำหรับผู้ป่วย", "For the patient";
    ShareAllowDownload => "อนุญาตให้ดาวน์โหลด", "Allow download";
    ShareExpiresDays => "หมดอายุใน (วัน)", "Expires in (days)";
    ShareLinks => "ลิงก์ที่สร้างแล้ว", "Links made";
    ShareRevoke => "ยกเลิก", "Revoke";
    ShareRevoked => "ยกเลิกแล้ว", "Revoked";
    ShareExpires => "หมดอายุ", "Expires";
    ShareOpening => "กำลังเปิดลิงก์…", "Opening the link…";
    ShareEnterPin => "กรอก PIN เพื่อดูภาพ", "Enter the PIN to see the images";
    ShareEnterBirthDate => "กรอกวันเกิดของผู้ป่วย (วว/ดด/ปปปป)", "Enter the patient's birth date (DD/MM/YYYY)";
    ShareOpen => "ดูภาพ", "View images";
    ShareRefused => "เปิดลิงก์ไม่ได้", "This link cannot be opened";
    ShareGone => "ลิงก์นี้หมดอายุหรือถูกยกเลิกแล้ว", "This link has expired or was revoked";
    ShareThrottled => "ลองผิดหลายครั้งเกินไป กรุณาลองใหม่ภายหลัง", "Too many attempts: try again later";
    ShareUnknown => "ไม่พบลิงก์นี้", "There is no such link";
    ShareWrongAnswer => "รหัสหรือวันเกิดไม่ถูกต้อง", "Wrong PIN or birth date";
    Refer => "ส่งต่อ", "Refer";
    ReferTitle => "ส่งต่อผู้ป่วย", "Refer the patient";
    ReferTo => "ส่งต่อไปยัง", "Refer to";
    ReferReason => "เหตุผลที่ส่งต่อ", "Reason";
    ReferUrgency => "ความเร่งด่วน", "Urgency";
    UrgencyRoutine => "ปกติ", "Routine";
    UrgencyUrgent => "เร่งด่วน", "Urgent";
    UrgencyEmergency => "ฉุกเฉิน", "Emergency";
    ReferSummary => "สรุปอาการทางคลินิก", "Clinical summary";
    ReferAllStudies => "ส่งภาพทั้งหมดของผู้ป่วย", "Send all of the patient's studies";
    ReferSend => "ส่งต่อ", "Send referral";
    ReferSent => "ส่งต่อแล้ว", "Referral sent";
    ReferLetter => "หนังสือส่งตัว (PDF)", "Referral letter (PDF)";
    Referrals => "การส่งต่อ", "Referrals";
    Incoming => "รับเข้า", "Incoming";
    Outgoing => "ส่งออก", "Outgoing";
    NoReferrals => "ไม่มีการส่งต่อ", "No referrals";
    OpenImages => "เปิดภาพ", "Open images";
    StatusSent => "ส่งแล้ว", "Sent";
    StatusReceived => "รับทราบ", "Received";
    StatusAccepted => "ตอบรับ", "Accepted";
    StatusCompleted => "เสร็จสิ้น", "Completed";
    StatusDeclined => "ปฏิเสธ", "Declined";
    TakeIntoArchive => "นำเข้าคลังภาพของเรา", "Take into our archive";
    OurHn => "HN ของโรงพยาบาลเรา", "Our HN";
    TakenIntoArchive => "นำเข้าแล้ว", "Taken into the archive";
    // The admin portal (web/admin.rs).
    Admin => "ผู้ดูแลระบบ", "Admin";
    AdmTabHospitals => "โรงพยาบาล", "Hospitals";
    AdmTabUsers => "ผู้ใช้", "Users";
    AdmTabAes => "เครื่อง DICOM (AE)", "AE titles";
    AdmTabTokens => "โทเคน API", "API tokens";
    AdmTabStats => "สถิติ", "Statistics";
    AdmTabAudit => "บันทึกการใช้งาน", "Audit log";
    AdmTabTemplates => "แม่แบบรายงาน", "Report templates";
    AdmTabTurnaround => "ระยะเวลารายงานผล", "Turnaround";
    AdmCode => "รหัสสถานพยาบาล 5 หลัก", "MOPH code (5 digits)";
    AdmName => "ชื่อ", "Name";
    AdmNameTh => "ชื่อภาษาไทย", "Thai name";
    AdmNameEn => "ชื่อภาษาอังกฤษ", "English name";
    AdmProvince => "จังหวัด", "Province";
    AdmCapabilities => "ขีดความสามารถ", "Capabilities";
    AdmOtherCapabilities => "อื่น ๆ (คั่นด้วยจุลภาค)", "Others (comma-separated)";
    AdmContact => "ติดต่อ", "Contact";
    AdmNewHospital => "เพิ่มโรงพยาบาล", "New hospital";
    AdmCreate => "สร้าง", "Create";
    AdmSave => "บันทึก", "Save";
    AdmEdit => "แก้ไข", "Edit";
    AdmCancel => "ยกเลิก", "Cancel";
    AdmDelete => "ลบ", "Delete";
    AdmSaved => "บันทึกแล้ว", "Saved";
    AdmRole => "บทบาท", "Role";
    AdmRoleAdmin => "ผู้ดูแลระบบ", "Administrator";
    AdmRoleRadiologist => "รังสีแพทย์", "Radiologist";
    AdmRoleDoctor => "แพทย์", "Doctor";
    AdmRoleTechnologist => "นักรังสีการแพทย์", "Technologist";
    AdmRoleRegionalReader => "รังสีแพทย์ศูนย์อ่านผลเขต", "Regional reader";
    AdmNewUser => "เพิ่มผู้ใช้", "New user";
    AdmPasswordBlank => "รหัสผ่าน (เว้นว่างให้ระบบสุ่ม)", "Password (blank: generated)";
    AdmDisabled => "ระงับแล้ว", "Disabled";
    AdmActive => "ใช้งานได้", "Active";
    AdmDisable => "ระงับ", "Disable";
    AdmEnable => "เปิดใช้", "Enable";
    AdmResetPassword => "ตั้งรหัสผ่านใหม่", "Reset password";
    AdmPasswordOnce => "รหัสผ่าน (แสดงครั้งเดียว):", "Password (shown once):";
    AdmRegion => "ทั้งเขตสุขภาพ", "Whole region";
    AdmAeTitle => "ชื่อ AE", "AE title";
    AdmHost => "โฮสต์ (สำหรับ C-MOVE)", "Host (for C-MOVE)";
    AdmPort => "พอร์ต", "Port";
    AdmAdd => "เพิ่ม", "Add";
    AdmRemove => "ลบออก", "Remove";
    AdmExpiresDays => "หมดอายุใน (วัน)", "Expires in (days)";
    AdmNever => "ไม่หมดอายุ", "Never";
    AdmNote => "ใช้สำหรับ", "Note";
    AdmNewToken => "สร้างโทเคน", "New token";
    AdmTokenOnce => "โทเคน (แสดงครั้งเดียว คัดลอกเก็บไว้ตอนนี้):", "Token (shown once, copy it now):";
    AdmRevoke => "เพิกถอน", "Revoke";
    AdmKind => "ชนิด", "Kind";
    AdmCreated => "สร้างเมื่อ", "Created";
    AdmExpires => "หมดอายุ", "Expires";
    AdmInstances => "จำนวนภาพ", "Instances";
    AdmStorage => "พื้นที่จัดเก็บที่ใช้", "Storage used";
    AdmPerDay => "ภาพที่รับต่อวัน (30 วันล่าสุด)", "Instances received per day (last 30 days)";
    AdmGateways => "เกตเวย์", "Gateways";
    AdmNoGateways => "โรงพยาบาลนี้ยังไม่มีเกตเวย์ (สร้างโทเคนบนเซิร์ฟเวอร์เขต: rangsi token create --gateway ชื่อ --hospital รหัส)", "This hospital has no gateway yet (make its token on the regional server: rangsi token create --gateway NAME --hospital CODE).";
    AdmNewGatewayToken => "โทเคนใหม่สำหรับเกตเวย์ของโรงพยาบาล", "New token for a hospital gateway";
    AdmGatewayName => "ชื่อเกตเวย์", "Gateway name";
    AdmGatewayRun => "ที่โรงพยาบาล ให้รันเกตเวย์ด้วย:", "At the hospital, run the gateway with:";
    AdmGatewayHealthy => "ปกติ", "Healthy";
    AdmGatewayLate => "ขาดการติดต่อ", "Not reporting";
    AdmGatewayFailing => "ส่งต่อไม่สำเร็จ", "Failing";
    AdmLastReport => "รายงานล่าสุด", "Last report";
    AdmQueue => "รอส่ง", "Queued";
    AdmOldestPending => "ค้างนานสุด", "Oldest waiting";
    AdmFailedItems => "ส่งไม่ได้", "Refused";
    AdmLastError => "ข้อผิดพลาดล่าสุด", "Last error";
    AdmStudyUid => "รหัสการตรวจ (Study UID)", "Study UID";
    AdmAction => "การกระทำ", "Action";
    AdmOutcome => "ผล", "Outcome";
    AdmDetail => "รายละเอียด", "Detail";
    AdmWhen => "เวลา", "Time";
    AdmDownloadCsv => "ดาวน์โหลด CSV", "Download CSV";
    AdmMore => "แสดงเพิ่ม", "More";
    AdmNothing => "ไม่พบรายการ", "Nothing found";
    AdmTemplateName => "ชื่อแม่แบบ", "Template name";
    AdmBodyPart => "ส่วนของร่างกาย", "Body part";
    AdmNewTemplate => "เพิ่มแม่แบบ", "New template";
    AdmAny => "ทั้งหมด", "Any";
    AdmByHospital => "ตามโรงพยาบาล", "By hospital";
    AdmByRadiologist => "ตามรังสีแพทย์", "By radiologist";
    AdmReports => "จำนวนรายงาน", "Reports";
    AdmMedian => "มัธยฐาน (ชม.)", "Median (h)";
    AdmP90 => "เปอร์เซ็นไทล์ที่ 90 (ชม.)", "90th percentile (h)";
    AdmMaxHours => "นานสุด (ชม.)", "Longest (h)";
    AdmTurnaroundNote => "ชั่วโมงจากภาพเข้าคลังถึงรายงานที่ลงนาม", "Hours from the images' arrival to the signed report";
    AdmShow => "แสดง", "Show";
    AdmStatus => "สถานะ", "Status";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_text_has_both_languages() {
        for &t in Text::ALL {
            let (th, en) = (tr(Lang::Th, t), tr(Lang::En, t));
            assert!(!th.is_empty() && !en.is_empty(), "{t:?}");
            assert!(
                en.is_ascii() || en.contains('…') || en.contains('–'),
                "{t:?}: {en}"
            );
        }
        // The Thai UI is Thai: most strings carry Thai letters (U+0E00..U+0E7F).
        let thai = Text::ALL
            .iter()
            .filter(|&&t| {
                tr(Lang::Th, t)
                    .chars()
                    .any(|c| ('\u{0E00}'..='\u{0E7F}').contains(&c))
            })
            .count();
        assert!(
            thai * 10 >= Text::ALL.len() * 9,
            "{thai} of {}",
            Text::ALL.len()
        );
    }

    #[test]
    fn language_codes_round_trip_and_default_to_thai() {
        for l in [Lang::Th, Lang::En] {
            assert_eq!(Lang::from_code(l.code()), Some(l));
        }
        assert_eq!(Lang::from_browser(&[]), Lang::Th);
        assert_eq!(Lang::from_browser(&["th-TH".into()]), Lang::Th);
        assert_eq!(Lang::from_browser(&["en-US".into()]), Lang::En);
    }
}
